"""``python -m local.runner``: serve template.yaml locally until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading

from .stack import DEFAULT_STACK_NAME, LocalStack


def _param(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected Key=Value, got {text!r}")
    return key, value


def main(argv: list[str] | None = None) -> None:
    """Parse flags, start the stack, print its URLs and block until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m local.runner", description=__doc__)
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--project-root", default=".")
    parser.add_argument("--api-port", type=int, default=3000)
    parser.add_argument("--moto-port", type=int, default=0)
    parser.add_argument("--stack-name", default=DEFAULT_STACK_NAME)
    parser.add_argument(
        "--param",
        type=_param,
        action="append",
        default=[],
        metavar="Key=Value",
        help="template parameter override (repeatable)",
    )
    parser.add_argument("--run-schedules-every", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--no-sqs", action="store_true", help="do not poll SQS event sources")
    args = parser.parse_args(argv)
    stack = LocalStack(
        template_path=args.template,
        project_root=args.project_root,
        parameter_overrides=dict(args.param),
        api_port=args.api_port,
        moto_port=args.moto_port,
        stack_name=args.stack_name,
        poll_sqs=not args.no_sqs,
        run_schedules_every=args.run_schedules_every,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with stack:
        print(f"API:  {stack.api_url}")
        print(f"moto: {stack.moto_url}  (AWS_ENDPOINT_URL for scripts)")
        for route in stack.routes:
            print(f"  {route.route_key:<55} -> {route.function_id}")
        for logical_id, reason in stack.skipped.items():
            print(f"  not emulated: {logical_id} ({reason})")
        print("Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            done.wait()


if __name__ == "__main__":
    main()
