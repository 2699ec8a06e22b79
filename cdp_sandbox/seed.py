"""Deterministic demo data for the sandbox: orders, their consumers, guests and order items.

Refs are UUIDs derived from fixed names, so the same seed gives the same refs on every machine and
tests can name records by position. Records are stored with links as bare refs; the server turns
them into absolute `{"href": ...}` links under its own base URL when it answers.
"""

import uuid
from dataclasses import dataclass, field

_NAMESPACE = uuid.UUID("6f1c9a52-3f7e-4d5b-9a2e-1b6d0c8e4f10")


def make_ref(kind: str, number: int) -> str:
    """Return the deterministic ref of the n-th record of a kind (`consumer`, `order`, ...)."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}-{number}"))


@dataclass
class SeedData:
    orders: dict[str, dict] = field(default_factory=dict)
    consumers: dict[str, dict] = field(default_factory=dict)
    guests: dict[str, dict] = field(default_factory=dict)
    order_items: dict[str, dict] = field(default_factory=dict)
    # {order ref: guest ref} of each order's contact, its owner in CDP's model: the first
    # traveller of the order (a `customer` guest; the others are `traveller` guests).
    order_contacts: dict[str, str] = field(default_factory=dict)


# (title, first name, last name, gender, nationality, country, date of birth) per traveller.
_PEOPLE = [
    ("Mr", "Liam", "Byrne", "male", "Irish", "IE", "1985-12-24"),
    ("Mrs", "Aoife", "Byrne", "female", "Irish", "IE", "1987-03-02"),
    ("Miss", "Saoirse", "Byrne", "female", "Irish", "IE", "2014-07-19"),
    ("Ms", "Amelia", "Clarke", "female", "British", "GB", "1979-05-30"),
    ("Dr", "Oliver", "Hughes", "male", "British", "GB", "1968-11-11"),
    ("Mr", "Javier", "Fernández", "male", "Spanish", "ES", "1990-01-15"),
    ("Mrs", "Lucía", "Fernández", "female", "Spanish", "ES", "1991-08-08"),
    ("Mstr", "Mateo", "Fernández", "male", "Spanish", "ES", "2019-02-27"),
    ("Ms", "Chloé", "Martin", "female", "French", "FR", "1995-09-03"),
    ("Prof", "Camille", "Dubois", "unknown", "French", "FR", "1972-04-21"),
    ("Mr", "Noah", "O'Sullivan", "male", "Irish", "IE", "2001-06-12"),
    ("Sir", "Edward", "Ashworth", "male", "British", "GB", "1950-10-01"),
]

# (booking reference, status, channel, price, currency, consumers as indexes into _PEOPLE).
_ORDERS = [
    ("B94TXY-1", "CONFIRMED", "WEB", 412.50, "EUR", [0, 1, 2]),
    ("K2LMQA-1", "PURCHASED", "CALL_CENTER", 189.00, "GBP", [3]),
    ("ZX81PD-1", "CONFIRMED", "MOBILE_APP", 233.10, "GBP", [4]),
    ("QH7RTE-1", "RESERVED", "OTA", 755.00, "EUR", [5, 6, 7]),
    ("PL0VNB-1", "PAYMENT_PENDING", "WEB", 98.99, "EUR", [8, 9]),
    ("DU4GHK-1", "CONFIRMED", "GDS", 1280.00, "EUR", [10, 11]),
]

_ROUTES = [("DUB", "LHR"), ("LHR", "DUB"), ("MAD", "CDG"), ("DUB", "JFK"), ("CDG", "MAD")]


def _timestamp(day: int, hour: int) -> str:
    return f"2026-10-{day:02d}T{hour:02d}:15:00.000Z"


def build() -> SeedData:
    """Build the demo data set; every call returns fresh, identical records."""
    data = SeedData()
    for order_number, (booking, status, channel, price, currency, people) in enumerate(_ORDERS):
        order_ref = make_ref("order", order_number)
        created = _timestamp(1 + order_number, 9)
        item_refs = []
        for leg, (origin, destination) in enumerate(
            _ROUTES[order_number % 3 : order_number % 3 + 2]
        ):
            item_ref = make_ref("order-item", order_number * 10 + leg)
            item_refs.append(item_ref)
            data.order_items[item_ref] = {
                "ref": item_ref,
                "order": order_ref,
                "createdAt": created,
                "modifiedAt": created,
                "type": "FLIGHT",
                "name": f"{origin} to {destination}",
                "quantity": len(people),
                "productId": f"{origin}-{destination}",
                "price": round(price / 2, 2),
                "currencyCode": currency,
                "referenceId": f"{booking}-{leg + 1}",
                "status": status,
                "passengerTypeCode": "ADT",
                "flightSegments": [
                    {"origin": origin, "destination": destination, "flightNumber": f"EI{150 + leg}"}
                ],
            }
        for person in people:
            title, first, last, gender, nationality, country, born = _PEOPLE[person]
            guest_ref = make_ref("guest", person)
            consumer_ref = make_ref("consumer", person)
            email = f"{first}.{last}@example.com".lower().replace("'", "")
            phone = f"+353 1 555 {1000 + person:04d}"
            data.guests[guest_ref] = {
                "ref": guest_ref,
                "createdAt": created,
                "modifiedAt": created,
                "firstSeen": created,
                "lastSeen": created,
                "guestType": "customer" if person == people[0] else "traveller",
                "title": title,
                "firstName": first,
                "lastName": last,
                "gender": gender,
                "dateOfBirth": f"{born}T00:00Z",
                "emails": [email],
                "phoneNumbers": [phone],
                "nationality": nationality,
                "country": country,
                "language": "en",
                "identifiers": [
                    {
                        "provider": "loyalty",
                        "id": f"FF{900_000 + person}",
                        "expiryDate": "2028-12-31T00:00Z",
                    }
                ],
            }
            consumer: dict[str, object] = {
                "ref": consumer_ref,
                "order": order_ref,
                "createdAt": created,
                "modifiedAt": created,
                "title": title,
                "firstName": first,
                "lastName": last,
                "gender": gender,
                "dateOfBirth": f"{born}T00:00Z",
                "emails": [email],
                "phoneNumbers": [phone],
                "nationality": nationality,
                "country": country,
                "passportNumber": f"P{country}{470_000 + person * 7919}",
                "passportExpiry": "2031-05-31T00:00Z",
                "identifiers": [
                    {
                        "provider": "loyalty",
                        "id": f"FF{900_000 + person}",
                        "expiryDate": "2028-12-31T00:00Z",
                    }
                ],
                "guest": guest_ref,
                "orderItems": list(item_refs),
            }
            if person == 0:
                # Undocumented attribute: proves a save keeps what the form never shows.
                consumer["specialAssistance"] = {"wheelchair": False, "meal": "VGML"}
            data.consumers[consumer_ref] = consumer
        data.order_contacts[order_ref] = make_ref("guest", people[0])
        data.orders[order_ref] = {
            "ref": order_ref,
            "createdAt": created,
            "modifiedAt": created,
            "referenceId": booking,
            "orderedAt": created,
            "currencyCode": currency,
            "price": price,
            "status": status,
            "channel": channel,
            "pointOfSale": "example-airline.com",
            "paymentType": "Card",
            "cardType": "Visa",
        }
    return data


def demo_order_refs() -> list[str]:
    """Return the refs of the seeded orders, in seed order."""
    return [make_ref("order", number) for number in range(len(_ORDERS))]
