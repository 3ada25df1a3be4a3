"""Listing every job of an account with 50,000 of them, page by page.

The emulator runs in a process of its own (seeded, loopback only), so only the client's
memory is traced here. Time and memory are separate runs: tracing slows the parsing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx

from bench.stats import Figure
from local.environment import ROOT, free_port

TARGET_GROWTH_MB = 50.0
CLIENT_ID, CLIENT_SECRET = "local-app-id", "local-app-secret"
REDIRECT = "http://127.0.0.1/bench-callback"  # never contacted: the code is read off the URL


@contextmanager
def seeded_emulator(records: int) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "SEED_RECORDS": str(records),
           "EMULATOR_AUTO_APPROVE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "local.emulator"],
                               env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # seeding takes a few seconds
            try:
                httpx.get(f"{url}/_emulator/state", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.25)
        else:
            raise TimeoutError("the seeded emulator did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def access_token(url: str) -> str:
    """The OAuth dance, shortened: the emulator approves at once and we read the code."""
    params = {"response_type": "code", "client_id": CLIENT_ID, "scope": "read_jobs",
              "redirect_uri": REDIRECT, "state": "bench"}
    approved = httpx.get(f"{url}/oauth/authorize", params=params, timeout=10)
    code = parse_qs(urlsplit(approved.headers["location"]).query)["code"][0]
    answer = httpx.post(f"{url}/oauth/access_token", timeout=10, data={
        "grant_type": "authorization_code", "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET, "code": code, "redirect_uri": REDIRECT})
    return str(answer.json()["access_token"])


def list_all(url: str, token: str) -> int:
    from servicem8_connector.servicem8.client import ServiceM8Client, new_http_client

    with new_http_client() as http:
        client = ServiceM8Client(http, api_url=url, access_token=lambda: token)
        return sum(1 for _ in client.records("job"))


def measure(records: int = 50_000, runs: int = 3) -> list[Figure]:
    seconds: list[float] = []
    growth: list[float] = []
    with seeded_emulator(records) as url:
        token = access_token(url)
        list_all(url, token)  # warm: connections, the emulator's own caches
        for _ in range(runs):
            started = time.perf_counter()
            listed = list_all(url, token)
            seconds.append(time.perf_counter() - started)
        for _ in range(runs):
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            list_all(url, token)
            growth.append((tracemalloc.get_traced_memory()[1] - before) / 1024 / 1024)
            tracemalloc.stop()
    memory = Figure.of(f"list-all of {listed:,} jobs, peak memory growth", "MB", growth,
                       target=f"< {TARGET_GROWTH_MB:.0f} MB")
    return [
        Figure.of(f"list-all of {listed:,} jobs from the emulator, time", "s", seconds,
                  note=f"{listed / (sum(seconds) / len(seconds)):,.0f} records/s"),
        replace(memory, met=memory.p99 < TARGET_GROWTH_MB),
    ]
