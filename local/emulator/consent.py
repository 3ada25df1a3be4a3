"""The HTML pages of the browser half of OAuth (FACTS §1.3): consent and error pages."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;background:#f3f5f7;margin:0;
color:#1d2329}
main{max-width:440px;margin:64px auto;background:#fff;border-radius:10px;padding:32px;
box-shadow:0 2px 12px rgba(0,0,0,.08)}
h1{font-size:1.3rem;margin:0 0 8px}p{line-height:1.45}ul{padding-left:20px}
li{margin:4px 0;font-family:ui-monospace,monospace;font-size:.9rem}
label{display:block;margin:16px 0 6px;font-weight:600}select{width:100%;padding:8px}
.actions{display:flex;gap:12px;margin-top:24px}
button{flex:1;padding:10px;border-radius:6px;border:1px solid #c3ccd4;font-size:1rem;
cursor:pointer;background:#fff}
#approve{background:#1f7a3f;color:#fff;border-color:#1f7a3f}
.note{color:#66717c;font-size:.85rem}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def consent_page(
    *,
    app_name: str,
    scopes: Sequence[str],
    accounts: Sequence[tuple[str, str]],
    selected_account: str,
    hidden: dict[str, str],
) -> str:
    """`accounts` is (uuid, name) pairs; a <select> appears only when there is a choice."""
    hidden_inputs = "".join(
        f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>" for k, v in hidden.items()
    )
    scope_items = "".join(f"<li>{escape(s)}</li>" for s in scopes)
    if len(accounts) > 1:
        options = "".join(
            f"<option value='{escape(u)}'{' selected' if u == selected_account else ''}>"
            f"{escape(n)}</option>"
            for u, n in accounts
        )
        account_html = (
            "<label for='account_uuid'>ServiceM8 account</label>"
            f"<select id='account_uuid' name='account_uuid'>{options}</select>"
        )
    else:
        uuid_, name = accounts[0]
        account_html = (
            f"<p>Account: <strong id='account-name'>{escape(name)}</strong></p>"
            f"<input type='hidden' name='account_uuid' value='{escape(uuid_)}'>"
        )
    body = (
        f"<h1>Connect {escape(app_name)}</h1>"
        f"<p><strong>{escape(app_name)}</strong> would like to access your ServiceM8 account "
        "with these permissions:</p>"
        f"<ul id='scopes'>{scope_items}</ul>"
        "<form method='post' action='/oauth/authorize'>"
        f"{hidden_inputs}{account_html}"
        "<div class='actions'>"
        "<button type='submit' id='deny' name='decision' value='deny'>Deny</button>"
        "<button type='submit' id='approve' name='decision' value='allow'>Allow</button>"
        "</div></form>"
        "<p class='note'>ServiceM8 emulator (local)</p>"
    )
    return _page(f"Connect {app_name}", body)


def error_page(message: str) -> str:
    return _page(
        "Authorisation error",
        f"<h1>Authorisation error</h1><p id='error'>{escape(message)}</p>",
    )
