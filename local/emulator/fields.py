"""Field catalogue of the eight emulated objects, transcribed from api.json (FACTS §2.8-§3.2).

Each line is `name kind[:maxLength] [ro]`. Kinds: str, uuid, dt (account-local or UTC
datetime), date, flag (0|1 integer), int, num, array, status (job status enum), any
(deprecated, untyped: never returned, ignored on write). `ro` marks fields the API
computes itself: a client may send them back (round-tripping a fetched record) and they
are ignored rather than refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from local.emulator.config import ZERO_DATE, ZERO_DATETIME

_CATALOGUE = {
    "company": """
        name str:100
        abn_number str
        address str:500
        billing_address str:500
        is_individual flag ro
        parent_company_uuid any
        uuid uuid
        active flag
        edit_date dt ro
        website str
        address_street str:500
        address_city str
        address_state str
        address_postcode str
        address_country str
        fax_number str
        badges str
        tax_rate_uuid uuid
        billing_attention str
        payment_terms str
    """,
    "companycontact": """
        company_uuid uuid
        first str
        last str
        phone str
        mobile str
        email str
        type str
        is_primary_contact str
        uuid uuid
        active flag
        edit_date dt ro
    """,
    "job": """
        created_by_staff_uuid uuid
        date date
        company_uuid uuid
        billing_address str:500
        status status:20
        lng num ro
        lat num ro
        payment_date dt
        payment_actioned_by_uuid uuid
        payment_method str
        payment_amount str
        category_uuid uuid
        payment_note str
        geo_is_valid flag ro
        purchase_order_number str:100
        invoice_sent flag
        invoice_sent_stamp dt ro
        ready_to_invoice any
        ready_to_invoice_stamp any
        geo_country str ro
        geo_postcode str ro
        geo_state str ro
        geo_city str ro
        geo_street str ro
        geo_number str ro
        queue_uuid uuid
        queue_expiry_date dt
        queue_assigned_staff_uuid uuid
        badges str
        quote_date dt
        quote_sent flag
        quote_sent_stamp dt ro
        work_order_date dt
        active_network_request_uuid any
        related_knowledge_articles any
        uuid uuid
        active flag
        edit_date dt ro
        job_address str:500
        job_description str
        work_done_description str
        generated_job_id str ro
        total_invoice_amount str ro
        payment_processed flag
        payment_processed_stamp dt ro
        payment_received flag
        payment_received_stamp dt ro
        completion_date dt
        completion_actioned_by_uuid uuid ro
        unsuccessful_date dt
        job_is_scheduled_until_stamp dt ro
    """,
    "formresponse": """
        form_uuid uuid
        staff_uuid uuid
        regarding_object str
        regarding_object_uuid uuid
        field_data str
        timestamp dt
        form_by_staff_uuid uuid
        document_attachment_uuid uuid
        asset_uuid uuid
        uuid uuid
        active flag
        edit_date dt ro
    """,
    "form": """
        name str
        document_template_uuid uuid
        can_be_used_independently str
        badge_mandatory_state str
        template_fields array
        uuid uuid
        active flag
        edit_date dt ro
        badge_name str:12
    """,
    "queue": """
        uuid uuid
        active flag
        edit_date dt ro
        name str
        default_timeframe int
        subscribed_staff str
        requires_assignment flag
    """,
    "vendor": """
        business_number str
        email str
        email_accounts str
        billing_address str
        accepted_payment_methods any
        default_region str
        currency str
        opening_time_monday str
        closing_time_monday str
        opening_time_tuesday str
        closing_time_tuesday str
        opening_time_wednesday str
        closing_time_wednesday str
        opening_time_thursday str
        closing_time_thursday str
        opening_time_friday str
        closing_time_friday str
        opening_time_saturday str
        closing_time_saturday str
        opening_time_sunday str
        closing_time_sunday str
        timezone_name str
        invoice_terms str
        job_default_status str
        uuid uuid
        active flag
        edit_date dt ro
        name str:200
        abn_number str
        website str:100
    """,
    "staff": """
        first str:30
        last str:30
        email str
        mobile str
        lng num
        lat num
        geo_timestamp dt
        job_title str
        navigating_to_job_uuid uuid
        navigating_timestamp dt
        navigating_expiry_timestamp dt
        color str
        custom_icon_url any
        status_message str
        status_message_timestamp dt
        hide_from_schedule flag
        uuid uuid
        active flag
        edit_date dt ro
        can_receive_push_notification str
        security_role_uuid uuid
        labour_material_uuid uuid
    """,
}

# Required on create (api.json `required`).
REQUIRED: dict[str, tuple[str, ...]] = {
    "company": ("name",),
    "job": ("status",),
    "vendor": ("name",),
    "staff": ("first", "last", "email"),
}

JOB_STATUSES = ("Quote", "Work Order", "Unsuccessful", "Completed")

_DEFAULT_BY_KIND: dict[str, object] = {
    "str": "",
    "uuid": "",
    "dt": ZERO_DATETIME,
    "date": ZERO_DATE,
    "flag": 0,
    "int": 0,
    "num": 0,
    "status": "",
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str
    max_length: int | None
    read_only: bool


def _parse(text: str) -> dict[str, FieldSpec]:
    specs: dict[str, FieldSpec] = {}
    for line in text.strip().splitlines():
        parts = line.split()
        kind, _, length = parts[1].partition(":")
        specs[parts[0]] = FieldSpec(
            parts[0], kind, int(length) if length else None, "ro" in parts[2:]
        )
    return specs


SPECS: dict[str, dict[str, FieldSpec]] = {name: _parse(text) for name, text in _CATALOGUE.items()}


def _defaults(specs: dict[str, FieldSpec]) -> dict[str, object]:
    out: dict[str, object] = {}
    for spec in specs.values():
        if spec.kind == "array":
            out[spec.name] = []
        elif spec.kind in _DEFAULT_BY_KIND:
            out[spec.name] = _DEFAULT_BY_KIND[spec.kind]
    return out


# Full shape of a record with nothing set: records are stored sparse and merged onto this,
# because ServiceM8 answers every field (empty strings, zero dates) rather than omitting them.
DEFAULTS: dict[str, dict[str, object]] = {name: _defaults(s) for name, s in SPECS.items()}


def is_populated(object_name: str, field: str, value: object) -> bool:
    """A field counts as populated when it differs from the empty default (§4.3 creation)."""
    return value != DEFAULTS[object_name].get(field) and value not in ("", None)
