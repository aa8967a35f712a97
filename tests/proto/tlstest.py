"""TLS helpers for the black-box tests: test certificates and a maild with
TLS listeners."""
import os
import ssl
import subprocess

from maildtest import free_port


def make_cert(directory, name="cert", cn="localhost", days=2):
    """A self-signed EC certificate for cn (and 127.0.0.1); returns paths."""
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + "-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                    "-out", cert, "-days", str(days), "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1" % cn],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


def cert_serial(path):
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", path],
                         check=True, capture_output=True, text=True).stdout
    return int(out.strip().split("=", 1)[1], 16)


def tls_config(sb, cert=None, key=None):
    """Config additions: TLS, a submission and an smtps listener."""
    if cert is None:
        cert, key = make_cert(sb.dir)
    ports = {"submission": free_port(), "smtps": free_port()}
    return ports, {
        "tls": {"certificate": cert, "key": key},
        "smtp": {"submission_listen": ["127.0.0.1:%d" % ports["submission"]],
                 "smtps_listen": ["127.0.0.1:%d" % ports["smtps"]]},
    }


def client_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    return ctx
