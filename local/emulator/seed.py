"""Deterministic, realistic seed data for an account: trade clients, their contacts, jobs,
job queues, forms, form responses and staff.

Records go straight into the tables (no validation pass, no webhooks) so 50,000 of each
seed in a couple of seconds.
"""

from __future__ import annotations

import json
import random
import uuid as uuid_lib
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache

from local.emulator.store import STATUS_STAMPS, Account, Record, format_utc, zone_for

Insert = Callable[[str, Record], str]
Stamp = Callable[[], str]


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split("|"))


_TRADES = _words(
    "Plumbing|Electrical|Air Conditioning|Roofing|Carpentry|Painting|Landscaping|Pest Control"
    "|Tiling|Glazing|Fencing|Locksmiths|Solar|Pool Services|Gas Fitting"
)
_SURNAMES = _words(
    "Nguyen|Smith|Williams|Brown|Wilson|Taylor|Anderson|Thompson|Walker|Harris|Kelly|Murphy"
    "|Ryan|O'Connor|Papadopoulos|Singh|Chen|Rossi|Campbell|Mitchell|Stewart|Morrison|Fraser"
    "|Hughes"
)
_FIRST_NAMES = _words(
    "Jack|Olivia|Liam|Charlotte|Noah|Amelia|Oliver|Isla|William|Mia|James|Grace|Lucas|Chloe"
    "|Ethan|Zoe|Mason|Ruby|Harper"
)
_PREFIXES = _words("Reliable|Premier|Coastal|Metro|Southern Cross|Bayside|Allround")
# (suburb, state, postcode)
_SUBURBS = tuple(
    tuple(entry.split(","))
    for entry in _words(
        "Paddington,QLD,4064|Chermside,QLD,4032|Southport,QLD,4215|Toowong,QLD,4066"
        "|Indooroopilly,QLD,4068|Parramatta,NSW,2150|Bondi,NSW,2026|Newtown,NSW,2042"
        "|Penrith,NSW,2750|Fitzroy,VIC,3065|Geelong,VIC,3220|Box Hill,VIC,3128"
        "|Glenelg,SA,5045|Norwood,SA,5067|Fremantle,WA,6160|Joondalup,WA,6027"
        "|Sandy Bay,TAS,7005|Braddon,ACT,2612|Palmerston,NT,0830|Townsville City,QLD,4810"
    )
)
_STREETS = _words(
    "George|Queen|Albert|Victoria|Station|Church|High|Park|Beach|Railway|King|Elizabeth"
    "|Wattle|Banksia|Jacaranda|Hill|Bridge"
)
_STREET_TYPES = ("Street", "Road", "Avenue", "Parade", "Crescent", "Lane", "Drive", "Terrace")
_JOBS = (
    "Replace leaking mixer tap in kitchen",
    "Hot water system not heating - inspect and quote replacement",
    "Install three double power points in garage",
    "Service and clean two split system air conditioners",
    "Repair storm-damaged roof tiles and check flashing",
    "Blocked sewer line - CCTV inspection and jet clean",
    "Replace rotten decking boards on rear deck",
    "Repaint exterior weatherboards and trims",
    "Annual termite inspection and report",
    "Supply and install 6.6 kW solar system",
    "Regrout and reseal main bathroom shower",
    "Replace cracked lounge room window pane",
    "Install new Colorbond boundary fence, 24 m",
    "Rekey all external locks after tenant change",
    "Test and tag appliances at office premises",
    "Gas leak detected at cooktop - make safe and repair",
    "Pool pump noisy - service and replace bearings",
    "Install ceiling fans in two bedrooms",
)
_STATUSES = ("Quote", "Work Order", "Completed", "Unsuccessful")
_STATUS_WEIGHTS = (25, 45, 25, 5)
_STAFF = (
    ("Sam", "Nguyen", "Owner", "#1f77b4"),
    ("Priya", "Sharma", "Senior Technician", "#2ca02c"),
    ("Jack", "O'Brien", "Apprentice", "#d62728"),
)


def _uuid(rng: random.Random) -> str:
    return str(uuid_lib.UUID(int=rng.getrandbits(128), version=4))


@lru_cache(maxsize=4096)
def _slug(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def seed_account(account: Account, count: int, seed: int, now: float) -> None:
    """`count` clients (each with a contact) and jobs, plus staff, queues, forms, responses.

    Nothing at all for count 0, so tests that start empty see only the vendor record.
    """
    if count <= 0:
        return
    rng = random.Random(seed)
    zone = zone_for(account.timezone_name)
    local_now = datetime.fromtimestamp(now, zone).replace(tzinfo=None)
    domain = f"{_slug(account.name) or 'account'}.com.au"

    # Wall-clock stamps built from cached day strings: strftime per record dominated seeding.
    days = [(local_now - timedelta(days=d)).strftime("%Y-%m-%d") for d in range(365)]
    seconds_today = local_now.hour * 3600 + local_now.minute * 60 + local_now.second

    def stamp() -> str:
        day = rng.randrange(365)
        second = rng.randrange(seconds_today + 1 if day == 0 else 86400)
        hours, rest = divmod(second, 3600)
        return f"{days[day]} {hours:02d}:{rest // 60:02d}:{rest % 60:02d}"

    def insert(object_name: str, record: Record) -> str:
        if "uuid" not in record:
            record["uuid"] = _uuid(rng)
        record.setdefault("active", 1)
        if "edit_date" not in record:
            record["edit_date"] = stamp()
        account.tables[object_name].insert(record)
        return str(record["uuid"])

    staff = [
        insert(
            "staff",
            {
                "first": first,
                "last": last,
                "job_title": title,
                "color": color,
                "email": f"{_slug(first)}@{domain}",
                "mobile": f"04{rng.randrange(10**8):08d}",
            },
        )
        for first, last, title, color in _STAFF
    ]
    queues = [
        insert("queue", {"name": "Workshop", "default_timeframe": 7, "requires_assignment": 0}),
        insert(
            "queue",
            {
                "name": "Parts on order",
                "default_timeframe": 14,
                "requires_assignment": 1,
                "subscribed_staff": ";".join(staff[:2]),
            },
        ),
    ]
    forms = [
        insert("form", {"name": name, "can_be_used_independently": flag, "badge_name": badge})
        for name, flag, badge in (
            ("Job Safety Analysis", "0", "JSA"),
            ("Compliance Certificate", "1", "CoC"),
        )
    ]
    companies = [_insert_company(rng, insert) for _ in range(count)]
    for company_uuid in companies:
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_SURNAMES)
        insert(
            "companycontact",
            {
                "company_uuid": company_uuid,
                "first": first,
                "last": last,
                "type": "BILLING",
                "email": f"{_slug(first)}.{_slug(last)}@example.com.au",
                "is_primary_contact": "1",
                "mobile": f"04{rng.randrange(10**8):08d}",
            },
        )
    jobs = []
    for _ in range(count):
        jobs.append(_insert_job(account, rng, insert, stamp, companies, staff, queues))
    for index in range(min(count, 5)):
        insert(
            "formresponse",
            {
                "form_uuid": forms[index % 2],
                "staff_uuid": staff[1],
                "regarding_object": "job",
                "regarding_object_uuid": jobs[index],
                "form_by_staff_uuid": staff[1],
                "field_data": json.dumps(
                    [{"question": "Site hazards identified", "answer": "None"}]
                ),
                "timestamp": format_utc(now - rng.randrange(30 * 86400)),
            },
        )


def _address(rng: random.Random) -> tuple[str, str, str, str]:
    suburb, state, postcode = rng.choice(_SUBURBS)
    street = f"{rng.randrange(1, 250)} {rng.choice(_STREETS)} {rng.choice(_STREET_TYPES)}"
    return street, suburb, state, postcode


def _insert_company(rng: random.Random, insert: Insert) -> str:
    street, suburb, state, postcode = _address(rng)
    trade, surname = rng.choice(_TRADES), rng.choice(_SURNAMES)
    pattern = rng.randrange(4)
    if pattern == 0:
        name, individual = f"{surname} {trade}", 0
    elif pattern == 1:
        name, individual = f"{rng.choice(_PREFIXES)} {trade} Services", 0
    elif pattern == 2:
        name, individual = f"{suburb} {trade} Co", 0
    else:
        name, individual = f"{rng.choice(_FIRST_NAMES)} {surname}", 1
    address = f"{street}, {suburb} {state} {postcode}"
    record: Record = {
        "name": name,
        "address": address,
        "address_street": street,
        "address_city": suburb,
        "address_state": state,
        "address_postcode": postcode,
        "address_country": "Australia",
        "billing_address": address,
        "is_individual": individual,
    }
    if not individual and rng.random() < 0.6:
        record["abn_number"] = f"{rng.randrange(10**10, 10**11)}"
        record["website"] = f"https://www.{_slug(name)}.com.au"
    if rng.random() < 0.02:
        record["active"] = 0
    return insert("company", record)


def _insert_job(
    account: Account,
    rng: random.Random,
    insert: Insert,
    stamp: Stamp,
    companies: list[str],
    staff: list[str],
    queues: list[str],
) -> str:
    street, suburb, state, postcode = _address(rng)
    status = rng.choices(_STATUSES, _STATUS_WEIGHTS)[0]
    created = stamp()
    record: Record = {
        "status": status,
        "date": created[:10],
        "company_uuid": rng.choice(companies),
        "job_address": f"{street}, {suburb} {state} {postcode}",
        "job_description": rng.choice(_JOBS),
        "created_by_staff_uuid": rng.choice(staff),
        "generated_job_id": str(account.next_job_number),
        "edit_date": created,
        STATUS_STAMPS[status]: created,
    }
    account.next_job_number += 1
    if status == "Completed":
        record["work_order_date"] = created
        record["work_done_description"] = "Work completed as quoted. Site left clean and tidy."
        record["completion_actioned_by_uuid"] = rng.choice(staff)
    if status == "Work Order" and rng.random() < 0.1:
        record["queue_uuid"] = rng.choice(queues)
        record["queue_expiry_date"] = created
    if rng.random() < 0.2:
        record["purchase_order_number"] = f"PO-{rng.randrange(10000, 99999)}"
    return insert("job", record)
