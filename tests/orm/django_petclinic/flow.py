"""The guide's curl flows against the Django pet clinic, through django.test.Client instead of a
server (same views, same URLs, same request bodies), with the ids the cluster returned instead of the
guide's example ids. Run from the project folder: `python ../flow.py crud` after `migrate pet_clinic
0001`, `python ../flow.py relationships` after the second migration. Exits non-zero on a mismatch.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django  # noqa: E402

django.setup()

from django.test import Client  # noqa: E402

# The views retry failed transactions after 1, 2 and 4 seconds; record the waits instead of sleeping.
slept: list[float] = []
time.sleep = slept.append

client = Client()


def call(method: str, path: str, body: dict | None = None, status: int = 200):
    response = client.generic(method, path, json.dumps(body) if body is not None else "")
    assert response.status_code == status, f"{method} {path} {body}: {response.status_code} {response.content!r}"
    return response.json() if response.get("Content-Type") == "application/json" else response.content.decode()


def post(path: str, body: dict, status: int = 200):
    return call("POST", path, body, status)


def one(rows: list) -> dict:
    assert len(rows) == 1, rows
    return rows[0]


def crud() -> None:
    joe = one(post("/owner/", {"name": "Joe", "city": "Seattle"}))
    mary = one(post("/owner/", {"name": "Mary", "telephone": "93209753297", "city": "New York"}))
    dennis = one(post("/owner/", {"name": "Dennis", "city": "Chicago"}))
    assert (joe["name"], joe["city"], joe["telephone"]) == ("Joe", "Seattle", None)
    assert (mary["telephone"], dennis["city"]) == ("93209753297", "Chicago")
    tom = one(post("/pet/", {"name": "Tom", "birth_date": "2006-10-25"}))
    luna = one(post("/pet/", {"name": "luna", "birth_date": "2020-10-10"}))
    myna = one(post("/pet/", {"name": "Myna", "birth_date": "2021-09-11"}))
    assert (tom["birth_date"], tom["owner_id"]) == ("2006-10-25", None)

    assert sorted(o["name"] for o in call("GET", "/owner/")) == ["Dennis", "Joe", "Mary"]
    assert sorted(p["name"] for p in call("GET", "/pet/")) == ["Myna", "Tom", "luna"]

    # Update: the fields not sent keep their values.
    joe = one(post("/owner/", {"id": joe["id"], "city": "Vancouver"}))
    assert (joe["name"], joe["city"], joe["telephone"]) == ("Joe", "Vancouver", None)
    tom = one(post("/pet/", {"id": tom["id"], "birth_date": "2016-09-11"}))
    assert (tom["name"], tom["birth_date"]) == ("Tom", "2016-09-11")
    assert one(call("GET", f"/owner/{joe['id']}"))["city"] == "Vancouver"
    post("/owner/", {"id": "44ca64ed-0264-450b-817b-14386c7df277", "city": "Vancouver"}, status=400)

    # Delete.
    call("DELETE", f"/owner/{joe['id']}")
    call("DELETE", f"/pet/{tom['id']}")
    assert call("GET", f"/owner/{joe['id']}") == [] and call("GET", f"/pet/{tom['id']}") == []

    # One-to-many: an owner adopts two pets; deleting the owner deletes them (on_delete=CASCADE).
    for pet in (luna, myna):
        assert one(post("/pet/", {"id": pet["id"], "owner_id": mary["id"]}))["owner_id"] == mary["id"]
    call("DELETE", f"/owner/{mary['id']}")
    assert call("GET", f"/owner/{mary['id']}") == []
    assert call("GET", f"/pet/{luna['id']}") == [] and call("GET", f"/pet/{myna['id']}") == []
    assert [o["name"] for o in call("GET", "/owner/")] == ["Dennis"] and call("GET", "/pet/") == []
    print("crud: ok")


def specialties_of(vet_id: str) -> list[str]:
    return sorted(s["specialty_id"] for s in call("GET", f"/vet-specialties/{vet_id}", {"vet_id": vet_id}))


def relationships() -> None:
    # Many-to-many.
    for name in ("Exotic", "Dogs", "Cats", "Pandas"):
        assert post("/specialty/", {"name": name}) == [{"name": name}]
    jake = post("/vet/", {"name": "Jake", "specialties": ["Dogs", "Cats"]})
    vince = post("/vet/", {"name": "Vince", "specialties": ["Dogs"]})
    matt = post("/vet/", {"name": "Matt"})
    assert sorted(s["specialty_id"] for s in jake["Specialties"]) == ["Cats", "Dogs"]
    assert matt["Specialties"] == []
    jake, vince, matt = (one(v["Veterinarian"]) for v in (jake, vince, matt))
    matt_update = post("/vet/", {"id": matt["id"], "specialties": ["Dogs", "Cats"]})
    assert one(matt_update["Veterinarian"])["name"] == "Matt"
    assert sorted(s["specialty_id"] for s in matt_update["Specialties"]) == ["Cats", "Dogs"]
    assert "Birds" in post("/vet/", {"name": "Nina", "specialties": ["Birds"]}, status=400)

    dog_vets = call("GET", "/vet-specialties/any", {"specialty_id": "Dogs"})
    assert sorted(link["vet_id"] for link in dog_vets) == sorted([jake["id"], vince["id"], matt["id"]])
    # Deleting a specialty deletes its links (on_delete=CASCADE), not the vets.
    call("DELETE", "/specialty/Dogs")
    assert specialties_of(matt["id"]) == ["Cats"] and specialties_of(vince["id"]) == []
    assert sorted(v["name"] for v in call("GET", "/vet/")) == ["Jake", "Matt", "Vince"]
    assert sorted(s["name"] for s in call("GET", "/specialty/")) == ["Cats", "Exotic", "Pandas"]

    # One-to-one: a vet who is also an owner.
    post("/owner/", {"name": "Paul", "city": "Seattle"})
    pablo_owner = one(post("/owner/", {"name": "Pablo", "city": "New York"}))
    for name in ("Exotic", "Dogs", "Cats", "Pandas"):
        post("/specialty/", {"name": name})
    pablo = post("/vet/", {"name": "Pablo", "specialties": ["Dogs", "Cats"], "owner_id": pablo_owner["id"]})
    pablo = one(pablo["Veterinarian"])
    assert pablo["owner_id"] == pablo_owner["id"]
    post("/vet/", {"name": "Vince", "specialties": ["Exotic"]})
    post("/vet/", {"name": "Matt"})
    # A second vet for the same owner breaks the one-to-one's UNIQUE: every retry fails, then 500.
    slept.clear()
    post("/vet/", {"name": "Jenny", "owner_id": pablo_owner["id"]}, status=500)
    assert slept == [1, 2, 4], slept
    assert [v["name"] for v in call("GET", "/vet/") if v["owner_id"] == pablo_owner["id"]] == ["Pablo"]
    # Deleting the owner sets the vet's owner to its default, NULL (on_delete=SET_DEFAULT).
    call("DELETE", f"/owner/{pablo_owner['id']}")
    assert one(call("GET", f"/vet/{pablo['id']}"))["owner_id"] is None
    print("relationships: ok")


if __name__ == "__main__":
    {"crud": crud, "relationships": relationships}[sys.argv[1]]()
