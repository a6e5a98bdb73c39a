"""TLS on the activesync-ssl listener with Dovecot's own ssl_cert/ssl_key:
the service speaks HTTPS without any proxy in front."""

import http.client
import os
import ssl
import subprocess
import tempfile

from harness import free_port, sample_message, xrequire

TLS_PORT = free_port()
CERT_DIR = tempfile.mkdtemp(prefix="eas-e2e-tls-")
CERT = os.path.join(CERT_DIR, "cert.pem")
KEY = os.path.join(CERT_DIR, "key.pem")

subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", KEY, "-out", CERT, "-days", "2",
                "-subj", "/CN=localhost"], check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
# the private Dovecot may run as another user: let it read them
os.chmod(CERT_DIR, 0o755)
os.chmod(CERT, 0o644)
os.chmod(KEY, 0o644)

INSTANCE = dict(activesync=True, extra_conf="""
ssl = yes
ssl_cert = <%s
ssl_key = <%s
service activesync {
  inet_listener activesync-ssl {
    address = 127.0.0.1
    port = %d
    ssl = yes
  }
}
""" % (CERT, KEY, TLS_PORT))


def https(method, path, headers, body=None):
    ctx = ssl.create_default_context(cafile=CERT)
    ctx.check_hostname = False
    conn = http.client.HTTPSConnection("127.0.0.1", TLS_PORT, context=ctx,
                                       timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return r, r.read(), conn.sock.version()
    finally:
        conn.close()


def test_options_over_tls(dc):
    c = dc.eas_client("user1@example.test")
    r, body, tls_version = https("OPTIONS", "/Microsoft-Server-ActiveSync",
                                 {"Authorization": c.auth_header()})
    assert tls_version is not None and tls_version.startswith("TLS"), \
        tls_version
    assert r.status == 200, (r.status, body)
    assert "16.1" in r.getheader("MS-ASProtocolVersions"), r.getheaders()


def test_unauthenticated_over_tls_gets_challenge(dc):
    r, body, _ = https("OPTIONS", "/Microsoft-Server-ActiveSync", {})
    assert r.status == 401, (r.status, body)
    assert r.getheader("WWW-Authenticate", "").startswith("Basic "), \
        r.getheaders()


def test_foldersync_over_tls(dc):
    user = "tlsuser@example.test"
    dc.add_user(user, "tls-pw")
    dc.deliver(user, sample_message("over tls", to=user))
    c = dc.eas_client(user, "tls-pw")
    c.provision()
    from harness import decode_wbxml, encode_xml, parse_xml
    body = encode_xml('<FolderSync xmlns="FolderHierarchy:"><SyncKey>0'
                      '</SyncKey></FolderSync>')
    r, data, _ = https("POST", c.query("FolderSync"), c.headers(), body)
    assert r.status == 200, (r.status, data)
    root = parse_xml(decode_wbxml(data))
    assert xrequire(root, "Status") == "1", decode_wbxml(data)
    types = [t.text for t in root.findall("{*}Changes/{*}Add/{*}Type")]
    assert "2" in types, decode_wbxml(data)
