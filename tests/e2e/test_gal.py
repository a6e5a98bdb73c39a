"""GAL: Search with Store GAL finds the users of the userdb (here the
harness's passwd-file, listed through Dovecot's auth service) by a
prefix of a name's word or of the address, with their userdb fields;
hidden users stay out; Range pages; the list follows the userdb after
activesync_gal_refresh_interval."""

import time

from harness import new_account, search, store_status, xall, xfind, xtext

# one passwd-file, which the userdb can list; a short refresh interval,
# so a new user shows within the test
INSTANCE = dict(activesync=True, passwd_single=True,
                plugin_settings={"activesync_gal_refresh_interval": "2 s"})

DOMAIN = "example.test"


def gal(c, query, options=""):
    r = search(c, query, options, store="GAL")
    results = [x for x in xall(r, "Search/Response/Store/Result")
               if xfind(x, "Properties") is not None]
    return r, {xtext(x, "Properties/GAL:EmailAddress"): x for x in results}


def field(result, name):
    return xtext(result, "Properties/GAL:" + name)


def add_directory(dc, tag):
    users = {
        "anna.smith": None,
        "anna.jones": "activesync_gal_company=Acme,"
                      "activesync_gal_title=Engineer,"
                      "activesync_gal_phone=+1-555-0100",
        "bob.smithers": "activesync_user_display_name=Bobby",
        "secret.smith": "activesync_gal_hidden=yes",
    }
    out, add = {}, {}
    for local, fields in users.items():
        user = "%s-%s@%s" % (local, tag, DOMAIN)
        extra = None
        if fields is not None:
            extra = dict(f.split("=", 1) for f in fields.split(","))
        add[user] = ("pw", extra)
        out[local] = user
    dc.add_users(add)
    return out


def test_gal_search(dc):
    users = add_directory(dc, "g1")
    c = new_account(dc, "gal1", version="14.1")
    mark = dc.log_offset()
    r, found = gal(c, "smi")
    assert store_status(r) == "1", r
    # both Smiths' words and Smithers, never the hidden one
    assert set(found) >= {users["anna.smith"], users["bob.smithers"]}, r
    assert users["secret.smith"] not in found, r
    assert users["anna.jones"] not in found, r
    dc.wait_for_log_text(mark, "GAL: ")
    a = found[users["anna.smith"]]
    # no display name in the userdb: read from the address
    assert field(a, "DisplayName") == "Anna Smith G1", r
    assert field(found[users["bob.smithers"]], "DisplayName") == "Bobby"
    total = int(xtext(r, "Search/Response/Store/Total"))
    assert total == len(found), r

    # by address prefix, with the directory fields
    r, found = gal(c, "anna.jones-g1@")
    assert list(found) == [users["anna.jones"]], r
    j = found[users["anna.jones"]]
    assert field(j, "Company") == "Acme"
    assert field(j, "Title") == "Engineer"
    assert field(j, "Phone") == "+1-555-0100"
    # case doesn't matter
    r, found = gal(c, "ANNA SMITH")
    assert list(found) == [users["anna.smith"]], r

    # Range pages, Total counts all
    r, found = gal(c, "anna", "<Range>0-0</Range>")
    assert len(found) == 1, r
    assert xtext(r, "Search/Response/Store/Range") == "0-0", r
    assert xtext(r, "Search/Response/Store/Total") == "2", r
    r, found2 = gal(c, "anna", "<Range>1-1</Range>")
    assert len(found2) == 1 and set(found2) != set(found), r
    r, _ = gal(c, "anna", "<Range>5-9</Range>")
    assert store_status(r) == "12", r

    # nothing found: an empty Result, Total 0
    r, found = gal(c, "zzzz")
    assert store_status(r) == "1" and not found, r
    assert xtext(r, "Search/Response/Store/Total") == "0", r

    # a picture asked for: none, Status 173
    r, found = gal(c, "bobby", "<Picture/>")
    assert xtext(found[users["bob.smithers"]],
                 "Properties/GAL:Picture/GAL:Status") == "173", r


def test_gal_follows_userdb(dc):
    c = new_account(dc, "gal2", version="16.1")
    r, found = gal(c, "zoe")
    assert not found, r
    user = "zoe.new@" + DOMAIN
    dc.add_user(user, "pw")
    # refreshed once the interval has passed
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        r, found = gal(c, "zoe")
        if user in found:
            break
        time.sleep(0.5)
    assert user in found, r
    assert field(found[user], "DisplayName") == "Zoe New"


def test_gal_bad_requests(dc):
    c = new_account(dc, "gal3")
    r = search(c, "", store="GAL")
    assert store_status(r) == "2", r
    r = search(c, "a", "<Range>9-1</Range>", store="GAL")
    assert store_status(r) == "2", r
