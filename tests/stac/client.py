"""What pystac-client gets from a STAC API, for tests/stac_client.rs to compare with the CLI.

    python client.py URL CHECK [ARGUMENT...]

prints one JSON document. Offline: schema URLs are answered from local copies and any other
network access is refused (see offline.py).
"""

import json
import sys

import offline

offline.install()

import pystac  # noqa: E402
from pystac_client import Client  # noqa: E402
from pystac_client.exceptions import APIError  # noqa: E402


def search(client, arguments):
    """`search '{"collections": [...], ...}'`: every item found, all pages followed: their ids
    and datetimes, the number of pages, the numberMatched of the first page, and the first
    three items as served."""
    (parameters,) = arguments
    pages = list(client.search(**json.loads(parameters)).pages_as_dicts())
    found = [item for page in pages for item in page["features"]]
    return {
        "ids": [item["id"] for item in found],
        "datetimes": [item.get("properties", {}).get("datetime") for item in found],
        "pages": len(pages),
        "matched": pages[0].get("numberMatched") if pages else None,
        "first": found[:3],
    }


def error(client, arguments):
    """`error '{...}'`: the status and message of a search the API refuses."""
    (parameters,) = arguments
    try:
        found = list(client.search(**json.loads(parameters)).items_as_dicts())
    except APIError as refused:
        return {"status": refused.status_code, "message": str(refused)}
    return {"status": 200, "ids": [item["id"] for item in found[:5]]}


def get_item(client, arguments):
    """`get_item COLLECTION ID`: the item as pystac-client reads it, and the links it was
    served with (pystac relinks the objects it holds, so those are read again as served)."""
    collection_id, item_id = arguments
    item = client.get_collection(collection_id).get_item(item_id)
    if item is None:
        return None
    served = pystac.StacIO.default().read_json(item.get_self_href())
    return {
        "id": item.id,
        "collection": item.collection_id,
        "links": {link["rel"]: link["href"] for link in served["links"]},
        "self": item.get_self_href(),
    }


def _deepest(error):
    """The message of the innermost cause of a jsonschema error: for a oneOf that failed, why
    the branch that fits best failed, not the whole instance."""
    from jsonschema.exceptions import best_match

    while getattr(error, "context", None):
        # A branch for another type of object ('Collection' was expected) says nothing.
        fitting = [
            cause
            for cause in error.context
            if not (cause.validator == "const" and list(cause.path)[-1:] == ["type"])
        ]
        error = best_match(fitting or error.context)
    return getattr(error, "message", str(error))[:200]


def validate_items(client, arguments):
    """`validate_items PAGE_SIZE`: every item of every collection, validated as served (with
    pystac, against the core schema of its stac_version and the schema of each extension it
    declares), and its id unique in its collection. Items are counted by collection, failures
    by collection, schema and first line of the message."""
    (page_size,) = arguments
    report = {"items": {}, "invalid": {}, "duplicates": [], "extensions": {}}
    for collection in client.get_collections():
        report["items"][collection.id] = 0
        seen = set()
        for page in client.search(
            collections=[collection.id], limit=int(page_size)
        ).pages_as_dicts():
            for data in page["features"]:
                report["items"][collection.id] += 1
                if data["id"] in seen:
                    report["duplicates"].append(f"{collection.id}/{data['id']}")
                seen.add(data["id"])
                for extension in data.get("stac_extensions", []):
                    report["extensions"][extension] = report["extensions"].get(extension, 0) + 1
                try:
                    pystac.validation.validate_dict(data)
                except pystac.errors.STACValidationError as invalid:
                    cause = _deepest(invalid.source[0]) if invalid.source else str(invalid)
                    schema = str(invalid).split(" against schema at ")[-1].split("\n")[0]
                    kind = f"{collection.id}: {schema}: {cause.splitlines()[0]}"
                    report["invalid"][kind] = report["invalid"].get(kind, 0) + 1
    return report


CHECKS = {
    "search": search,
    "error": error,
    "get_item": get_item,
    "validate_items": validate_items,
}

if __name__ == "__main__":
    url, check, *arguments = sys.argv[1:]
    json.dump(CHECKS[check](Client.open(url), arguments), sys.stdout)
