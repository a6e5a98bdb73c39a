"""The short cache of verified credentials: it spares the auth service a
phone's steady stream of requests, and never lets a wrong password in."""

import time

from harness import penalty_free_ip

INSTANCE = dict(activesync=True, plugin_settings={
    "activesync_debug": "yes",
})


def test_cached_credentials_skip_the_auth_service(dc):
    dc.add_user("cache1@example.test", "cache-pw")
    c = dc.eas_client("cache1@example.test", "cache-pw")
    dc.mark_log()
    assert c.options().status == 200
    assert c.options().status == 200
    dc.wait_for_log(r"cache1@example.test verified from cache", timeout=10)


def test_wrong_password_after_success_is_refused(dc):
    dc.add_user("cache2@example.test", "right-pw")
    c = dc.eas_client("cache2@example.test", "right-pw",
                      source_ip=penalty_free_ip())
    assert c.options().status == 200
    bad = dc.eas_client("cache2@example.test", "wrong-pw",
                        source_ip=penalty_free_ip())
    start = time.monotonic()
    r = bad.options()
    assert r.status == 401, r
    # the wrong password went to the auth service, which delays failures
    assert time.monotonic() - start >= 1.0
    # and the right one still works
    assert c.options().status == 200


def test_no_password_in_the_log(dc):
    dc.add_user("cache3@example.test", "Secret-Pw-123")
    c = dc.eas_client("cache3@example.test", "Secret-Pw-123")
    off = dc.log_offset()
    assert c.options().status == 200
    bad = dc.eas_client("cache3@example.test", "Other-Secret-456",
                        source_ip=penalty_free_ip())
    assert bad.options().status == 401
    log = dc.log_since(off)
    assert "Secret-Pw-123" not in log and "Other-Secret-456" not in log, log


def test_request_log_masks_password_elements(dc):
    """With activesync_debug the decoded request is logged, one line per
    XML line, with every *Password element's content hidden."""
    c = dc.eas_client("user1@example.test")
    c.provision()
    off = dc.log_offset()
    r = c.request("Search", '<Search xmlns="Search:"><Store>'
                  '<Name>DocumentLibrary</Name><Query><EqualTo>'
                  '<LinkId>x</LinkId><Value>y</Value></EqualTo></Query>'
                  '<Options><UserName>u</UserName>'
                  '<Password>TopSecretPw</Password></Options></Store>'
                  '</Search>')
    assert r.status == 200, r
    log = dc.log_since(off)
    assert "TopSecretPw" not in log, log
    assert "<Password>********</Password>" in log, log
    # multi-line log messages would show up as ": Error:" lines
    assert ": Error:" not in log, log
