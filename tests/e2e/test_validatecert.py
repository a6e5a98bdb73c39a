"""ValidateCert (MS-ASCMD 2.2.1.22) on 14.1 and 16.1 with certificates
made here by the openssl command: a leaf of a CA the server trusts
(activesync_trusted_ca_file), one under an intermediate the device sends
in CertificateChain, a self-signed one, an expired one, one not meant
for mail, CheckCRL with and without a CRL (a revoked leaf), and bad
requests."""

import atexit
import base64
import os
import shutil
import subprocess
import tempfile

from harness import new_account, our_encode, xall, xrequire

VERSIONS = ("14.1", "16.1")

CA_CNF = """[ ca ]
default_ca = ca_default
[ ca_default ]
dir = {d}
database = {d}/index.txt
new_certs_dir = {d}/new
serial = {d}/serial
crlnumber = {d}/crlnumber
default_md = sha256
default_crl_days = 30
policy = policy_any
unique_subject = no
[ policy_any ]
commonName = supplied
[ mail ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
[ server ]
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
[ sub_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
"""


class Certs:
    """A root CA (trusted by the server), an intermediate CA under it and
    the leaves; PEM files in a directory the Dovecot user can read."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="eas-e2e-certs-")
        os.chmod(self.dir, 0o755)
        atexit.register(shutil.rmtree, self.dir, True)
        self.root = self.make_ca("root", None)
        self.sub = self.make_ca("sub", "root")
        self.leaf = self.make_leaf("leaf", "root", "mail")
        self.sub_leaf = self.make_leaf("subleaf", "sub", "mail")
        self.server = self.make_leaf("server", "root", "server")
        self.expired = self.make_leaf("expired", "root", "mail",
                                      ["-startdate", "20200101000000Z",
                                       "-enddate", "20200201000000Z"])
        self.revoked = self.make_leaf("revoked", "root", "mail")
        self.openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes",
                     "-keyout", self.path("self.key"),
                     "-out", self.path("self.pem"), "-days", "30",
                     "-subj", "/CN=Self Signed")
        self.self_signed = self.path("self.pem")
        # the server trusts the root only
        self.trusted = self.path("trusted.pem")
        shutil.copy(self.root, self.trusted)
        # and, in a second file, the root with its CRL (leaf revoked)
        self.openssl("ca", "-config", self.cnf("root"), "-batch",
                     "-keyfile", self.path("root.key"),
                     "-cert", self.root, "-revoke", self.revoked)
        crl = self.path("root.crl")
        self.openssl("ca", "-config", self.cnf("root"), "-batch",
                     "-keyfile", self.path("root.key"), "-cert", self.root,
                     "-gencrl", "-out", crl)
        self.trusted_crl = self.path("trusted-crl.pem")
        with open(self.trusted_crl, "w") as out:
            for p in (self.root, crl):
                with open(p) as f:
                    out.write(f.read())
        for name in os.listdir(self.dir):
            p = os.path.join(self.dir, name)
            if os.path.isfile(p):
                os.chmod(p, 0o644)

    def path(self, name):
        return os.path.join(self.dir, name)

    def openssl(self, *args):
        r = subprocess.run(["openssl"] + list(args), cwd=self.dir,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        assert r.returncode == 0, (args, r.stderr)
        return r.stdout

    def cnf(self, ca):
        d = self.path(ca + ".ca")
        if not os.path.isdir(d):
            os.makedirs(os.path.join(d, "new"))
            open(os.path.join(d, "index.txt"), "w").close()
            with open(os.path.join(d, "serial"), "w") as f:
                f.write("1000\n")
            with open(os.path.join(d, "crlnumber"), "w") as f:
                f.write("1000\n")
            with open(os.path.join(d, "ca.cnf"), "w") as f:
                f.write(CA_CNF.format(d=d))
        return os.path.join(d, "ca.cnf")

    def make_ca(self, name, issuer):
        key, pem = self.path(name + ".key"), self.path(name + ".pem")
        if issuer is None:
            self.openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes",
                         "-keyout", key, "-out", pem, "-days", "60",
                         "-subj", "/CN=Test %s CA" % name,
                         "-addext", "basicConstraints=critical,CA:TRUE",
                         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        else:
            self.sign(name, issuer, "sub_ca", [])
        return pem

    def make_leaf(self, name, issuer, ext, extra=None):
        self.sign(name, issuer, ext, extra or ["-days", "20"])
        return self.path(name + ".pem")

    def sign(self, name, issuer, ext, extra):
        key, csr = self.path(name + ".key"), self.path(name + ".csr")
        self.openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                     "-out", csr, "-subj", "/CN=%s" % name)
        if not extra:
            extra = ["-days", "40"]
        self.openssl("ca", "-config", self.cnf(issuer), "-batch",
                     "-notext", "-keyfile", self.path(issuer + ".key"),
                     "-cert", self.path(issuer + ".pem"), "-in", csr,
                     "-out", self.path(name + ".pem"), "-extensions", ext,
                     *extra)


CERTS = Certs()

INSTANCE = dict(activesync=True,
                plugin_settings={"activesync_trusted_ca_file":
                                 CERTS.trusted,
                                 "activesync_debug": "yes"})


def der_b64(pem_path):
    with open(pem_path) as f:
        text = f.read()
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split(
        "-----END CERTIFICATE-----")[0]
    return base64.b64encode(base64.b64decode(body)).decode()


def validate(c, certs, chain=(), check_crl=None, raw=None):
    x = '<ValidateCert xmlns="ValidateCert:">'
    if raw is not None:
        x += raw
    else:
        if chain:
            x += "<CertificateChain>%s</CertificateChain>" % "".join(
                "<Certificate>%s</Certificate>" % der_b64(p) for p in chain)
        x += "<Certificates>%s</Certificates>" % "".join(
            "<Certificate>%s</Certificate>" % der_b64(p) for p in certs)
        if check_crl is not None:
            x += "<CheckCrl>%d</CheckCrl>" % check_crl
    x += "</ValidateCert>"
    r = c.request("ValidateCert", body=our_encode(x, c.builddir))
    assert r.status == 200, r
    return r


def statuses(r):
    assert xrequire(r, "ValidateCert/Status") == "1", r
    return [xrequire(x, "Status") for x in xall(r, "Certificate")]


def account(dc, version):
    c = new_account(dc, "vc%s" % version.replace(".", ""), version=version)
    c.provision()
    return c


def test_validate_certificates(dc):
    for version in VERSIONS:
        c = account(dc, version)
        r = validate(c, [CERTS.leaf, CERTS.self_signed, CERTS.expired,
                         CERTS.server, CERTS.sub_leaf])
        # trusted, untrusted source, expired, not for mail, no way to
        # its issuer without the chain
        assert statuses(r) == ["1", "4", "7", "6", "4"], r
        # the device sends the intermediate
        r = validate(c, [CERTS.sub_leaf], chain=[CERTS.sub])
        assert statuses(r) == ["1"], r
        # a self-signed root in the chain is not trusted for that
        r = validate(c, [CERTS.self_signed], chain=[CERTS.self_signed])
        assert statuses(r) == ["4"], r
        # revocation can't be known without a CRL
        r = validate(c, [CERTS.leaf], check_crl=1)
        assert statuses(r) == ["16"], r
        r = validate(c, [CERTS.leaf, CERTS.revoked], check_crl=0)
        assert statuses(r) == ["1", "1"], r


def test_validate_with_crl(dc):
    # the same instance, the trusted file now with the root's CRL
    path = INSTANCE["plugin_settings"]["activesync_trusted_ca_file"]
    assert path == CERTS.trusted
    shutil.copy(CERTS.trusted_crl, CERTS.trusted)
    try:
        c = account(dc, "16.1")
        r = validate(c, [CERTS.leaf, CERTS.revoked], check_crl=1)
        assert statuses(r) == ["1", "13"], r
    finally:
        shutil.copy(CERTS.root, CERTS.trusted)


def test_validate_bad_requests(dc):
    c = account(dc, "16.1")
    mark = dc.log_offset()
    for raw in ("",
                "<Certificates></Certificates>",
                "<Certificates><Certificate>!!!not base64"
                "</Certificate></Certificates>",
                "<Certificates><Certificate>%s</Certificate></Certificates>"
                "<CheckCrl>7</CheckCrl>" % der_b64(CERTS.leaf),
                "<Certificates>%s</Certificates>" % (
                    "<Certificate>%s</Certificate>" % der_b64(CERTS.leaf)
                    * 101)):
        r = validate(c, [], raw=raw)
        assert xrequire(r, "ValidateCert/Status") == "2", (raw, r)
        assert xall(r, "Certificate") == [], r
    # base64 of something that is no certificate: that one is malformed
    junk = base64.b64encode(b"not a certificate at all").decode()
    r = validate(c, [], raw="<Certificates><Certificate>%s</Certificate>"
                 "<Certificate>%s</Certificate></Certificates>"
                 % (junk, der_b64(CERTS.leaf)))
    assert statuses(r) == ["10", "1"], r
    assert "ValidateCert: a Certificate is not base64" in dc.log_since(mark)
