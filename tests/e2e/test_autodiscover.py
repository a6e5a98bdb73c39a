"""Autodiscover: POST /autodiscover/autodiscover.xml with the user's
address and password gives phones the URL of the service (mobilesync
schema) and Outlook its IMAP and SMTP settings (outlook schema); an
address of another domain is redirected to the user's own; a bad or
hostile request gets the schema's error document and nothing else.
Responses are parsed with Python's XML parser, independent of libxml2."""

import xml.etree.ElementTree as ET

from harness import new_account

INSTANCE = dict(activesync=True)

NS_RESP = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
NS_MS = ("http://schemas.microsoft.com/exchange/autodiscover/mobilesync/"
         "responseschema/2006")
NS_OL = ("http://schemas.microsoft.com/exchange/autodiscover/outlook/"
         "responseschema/2006a")
NS_REQ = ("http://schemas.microsoft.com/exchange/autodiscover/mobilesync/"
          "requestschema/2006")
PATH = "/autodiscover/autodiscover.xml"


def request_xml(email, schema=NS_MS):
    return ('<?xml version="1.0" encoding="utf-8"?>\r\n'
            '<Autodiscover xmlns="%s"><Request>'
            '<EMailAddress>%s</EMailAddress>'
            '<AcceptableResponseSchema>%s</AcceptableResponseSchema>'
            '</Request></Autodiscover>' % (NS_REQ, email, schema)).encode()


def post(c, body, path=PATH, auth=True, host=None):
    headers = {"Content-Type": "text/xml"}
    if auth:
        headers["Authorization"] = c.auth_header()
    if host is not None:
        headers["Host"] = host
    return c.raw("POST", path, headers, body)


def parsed(r):
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("text/xml"), r
    root = ET.fromstring(r.body)
    assert root.tag == "{%s}Autodiscover" % NS_RESP, r.body
    return root


def find(elem, path, ns):
    return elem.find("/".join("{%s}%s" % (ns, p) for p in path.split("/")))


def test_mobilesync_settings(dc):
    c = new_account(dc, "adms")
    r = post(c, request_xml(c.user), host="mail.example.test")
    root = parsed(r)
    resp = find(root, "Response", NS_MS)
    assert resp is not None, r.body
    assert find(resp, "User/EMailAddress", NS_MS).text == c.user
    server = find(resp, "Action/Settings/Server", NS_MS)
    assert find(server, "Type", NS_MS).text == "MobileSync"
    url = "https://mail.example.test/Microsoft-Server-ActiveSync"
    assert find(server, "Url", NS_MS).text == url, r.body
    assert find(server, "Name", NS_MS).text == url
    # the path's case doesn't matter, and GET answers the same
    r2 = post(c, request_xml(c.user), path="/Autodiscover/Autodiscover.xml",
              host="mail.example.test")
    assert find(find(parsed(r2), "Response", NS_MS),
                "Action/Settings/Server/Url", NS_MS).text == url
    r3 = c.raw("GET", PATH, {"Authorization": c.auth_header(),
                             "Host": "mail.example.test"})
    assert find(find(parsed(r3), "Response", NS_MS),
                "Action/Settings/Server/Url", NS_MS).text == url


def test_url_from_userdb(dc):
    c = new_account(dc, "adurl", extra_fields={
        "activesync_autodiscover_url":
            "https://eas.other.example/Microsoft-Server-ActiveSync"})
    root = parsed(post(c, request_xml(c.user)))
    url = find(find(root, "Response", NS_MS),
               "Action/Settings/Server/Url", NS_MS).text
    assert url == "https://eas.other.example/Microsoft-Server-ActiveSync"


def test_outlook_schema(dc):
    c = new_account(dc, "adol")
    r = post(c, request_xml(c.user, NS_OL), host="mail.example.test:8443")
    root = parsed(r)
    resp = find(root, "Response", NS_OL)
    assert resp is not None, r.body
    assert find(resp, "User/AutoDiscoverSMTPAddress", NS_OL).text == c.user
    account = find(resp, "Account", NS_OL)
    assert find(account, "AccountType", NS_OL).text == "email"
    assert find(account, "Action", NS_OL).text == "settings"
    protos = {find(p, "Type", NS_OL).text: p
              for p in account.findall("{%s}Protocol" % NS_OL)}
    assert set(protos) == {"IMAP", "SMTP"}, r.body
    imap, smtp = protos["IMAP"], protos["SMTP"]
    assert find(imap, "Server", NS_OL).text == "mail.example.test"
    assert find(imap, "Port", NS_OL).text == "993"
    assert find(imap, "SSL", NS_OL).text == "on"
    assert find(imap, "LoginName", NS_OL).text == c.user
    assert find(smtp, "Port", NS_OL).text == "587"
    assert find(smtp, "Encryption", NS_OL).text == "TLS"


def test_other_domain_is_redirected(dc):
    c = new_account(dc, "adredir")
    other = c.user.split("@")[0] + "@old.example.org"
    for schema, ns in ((NS_MS, NS_MS), (NS_OL, NS_OL)):
        root = parsed(post(c, request_xml(other, schema)))
        resp = find(root, "Response", ns)
        if ns == NS_MS:
            assert find(resp, "Action/Redirect", ns).text == c.user
        else:
            assert find(resp, "Account/Action", ns).text == "redirectAddr"
            assert find(resp, "Account/RedirectAddr", ns).text == c.user
    # an alias in the user's own domain gets the settings
    alias = "alias-" + c.user
    root = parsed(post(c, request_xml(alias)))
    assert find(find(root, "Response", NS_MS), "Action/Settings/Server/Type",
                NS_MS).text == "MobileSync"


def test_bad_requests(dc):
    c = new_account(dc, "adbad")

    def error_code(r):
        root = parsed(r)
        return find(root, "Response/Error/ErrorCode", NS_RESP).text

    mark = dc.log_offset()
    assert error_code(post(c, b"<Autodiscover><Request>")) == "600"
    dc.wait_for_log_text(mark, "Autodiscover: invalid request: not "
                         "well-formed")
    assert error_code(post(c, request_xml(c.user, "urn:nothing"))) == "601"
    dc.wait_for_log_text(mark, "no provider for the schema urn:nothing")
    # entity expansion and external entities never reach the parser
    laughs = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaa">'
              '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
              '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
              '<Autodiscover xmlns="%s"><Request><EMailAddress>&c;'
              '</EMailAddress><AcceptableResponseSchema>%s'
              '</AcceptableResponseSchema></Request></Autodiscover>'
              % (NS_REQ, NS_MS)).encode()
    assert error_code(post(c, laughs)) == "600"
    xxe = ('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM '
           '"file:///etc/passwd">]><Autodiscover xmlns="%s"><Request>'
           '<EMailAddress>&x;</EMailAddress><AcceptableResponseSchema>%s'
           '</AcceptableResponseSchema></Request></Autodiscover>'
           % (NS_REQ, NS_MS)).encode()
    r = post(c, xxe)
    assert error_code(r) == "600" and b"root:" not in r.body
    dc.wait_for_log_text(mark, "DOCTYPE or other declarations")
    # too big: refused while reading
    r = post(c, b"<Autodiscover>" + b" " * 20000 + b"</Autodiscover>")
    assert r.status == 413, r
    # no credentials: 401, nothing said about the user
    r = post(c, request_xml(c.user), auth=False)
    assert r.status == 401, r
    assert b"Settings" not in r.body
    r = c.raw("PUT", PATH, {"Authorization": c.auth_header()}, b"x")
    assert r.status == 405, r
    assert dc.service_alive()
