"""Configuration and fixed vocabulary of the ServiceM8 emulator.

The vocabulary (scope names, event names, object names) is copied from FACTS.md so the
emulator rejects exactly what ServiceM8 rejects.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# FACTS §1.7: scopes declared in the spec plus the ones endpoints demand but the list omits.
DECLARED_SCOPES = _names(
    """
    staff_locations staff_activity publish_sms publish_email vendor vendor_logo vendor_email
    read_locations manage_locations read_staff manage_staff read_customers manage_customers
    read_customer_contacts manage_customer_contacts read_jobs manage_jobs create_jobs
    read_job_contacts manage_job_contacts read_job_materials manage_job_materials
    read_job_categories manage_job_categories read_job_queues manage_job_queues read_tasks
    manage_tasks read_schedule manage_schedule read_inventory manage_inventory read_job_notes
    publish_job_notes read_job_photos publish_job_photos read_attachments manage_attachments
    read_inbox read_messages manage_notifications manage_templates manage_badges read_assets
    manage_assets read_knowledge_base manage_knowledge_base
    """
)
EXTRA_SCOPES = _names(
    """
    read_forms manage_forms read_feedback manage_feedback publish_inbox read_job_checklists
    manage_job_checklists read_job_payments manage_job_payments read_knowledge manage_knowledge
    read_security_roles publish_messages read_suppliers manage_suppliers read_tax_rates
    manage_tax_rates read_job_attachments publish_job_attachments
    """
)
KNOWN_SCOPES = DECLARED_SCOPES | EXTRA_SCOPES

# FACTS §4.4: the 25 event names ServiceM8's official n8n trigger offers.
EVENT_NAMES = _names(
    """
    job.created job.updated job.status_changed job.completed job.queued job.checked_in
    job.checked_out job.quote_sent job.quote_accepted job.invoice_sent job.invoice_paid
    job.note_added job.photo_added job.video_added job.badge_added job.badge_removed
    job.review_received company.created company.updated form.response_created
    inbox.message_received proposal.sent proposal.viewed staff.clocked_on staff.clocked_off
    """
)

# Canonical (lower-case) object name -> capitalisation ServiceM8 uses in resource_url (§4.3).
OBJECT_DISPLAY_NAMES = {
    "company": "Company",
    "companycontact": "CompanyContact",
    "job": "Job",
    "formresponse": "FormResponse",
    "form": "Form",
    "queue": "Queue",
    "vendor": "Vendor",
    "staff": "Staff",
}

# FACTS §1.7 / api.json security: (read scope, create scope, update/delete scope).
# None means the operation does not exist for that object.
OBJECT_SCOPES: dict[str, tuple[str, str | None, str | None]] = {
    "company": ("read_customers", "manage_customers", "manage_customers"),
    "companycontact": (
        "read_customer_contacts",
        "manage_customer_contacts",
        "manage_customer_contacts",
    ),
    "job": ("read_jobs", "create_jobs", "manage_jobs"),
    "formresponse": ("read_forms", "manage_forms", "manage_forms"),
    "form": ("read_forms", "manage_forms", "manage_forms"),
    "queue": ("read_job_queues", "manage_job_queues", "manage_job_queues"),
    "vendor": ("vendor", None, None),
    "staff": ("read_staff", "manage_staff", "manage_staff"),
}

ZERO_DATETIME = "0000-00-00 00:00:00"
ZERO_DATE = "0000-00-00"


@dataclass
class EmulatorConfig:
    """Everything fixed for the life of an Emulator (reset() keeps it)."""

    client_id: str = "local-app-id"
    client_secret: str = "local-app-secret"
    app_name: str = "Local Connector"
    api_key: str | None = None
    auto_approve: bool = False
    seed_records: int = 0
    default_account_name: str = "Alpha Plumbing"
    default_timezone_name: str = "Australia/Brisbane"
    delivery_retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0)
    failures_before_deactivation: int = 5
    delivery_timeout: float = 10.0
    handshake_timeout: float = 10.0
    per_minute_limit: int = 180
    per_day_limit: int = 20000
    page_size: int = 5000
    access_token_lifetime: int = 3600
    code_lifetime: int = 600
    # FACTS §2.4: an unencoded $filter is ignored. A raw space always counts as unencoded;
    # with this True a raw single quote does too (what httpx leaves in a URL string).
    raw_quote_disables_filter: bool = True
    # Seconds the delivery worker waits for more changes before shuffling or batching.
    settle_seconds: float = 0.05
    # Most entries kept in each of emu.requests / deliveries / handshakes.
    log_limit: int = 10_000
    # Used in resource_url; None = URL of the running server, else http://127.0.0.1:8090.
    base_url: str | None = None
    clock: Callable[[], float] = time.time
