"""A real SMTP server for the e-mail notifier's tests: aiosmtpd (Debian's
python3-aiosmtpd) on a loopback port, with TLS, authentication, a
recipient it refuses, and every accepted message written to a directory.

Usage: smtpserver.py PORT CERT KEY OUTDIR starttls|implicit USER PASSWORD
Prints READY when it accepts connections; stops when stdin closes.
"""
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, outdir, mode, user, password = sys.argv[1:8]


class Handler:
    def __init__(self):
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 <%s>: no such user" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(outdir, "%03d" % self.n)
        with open(base + ".rcpt", "w") as f:
            f.write("\n".join(envelope.rcpt_tos))
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == user
          and auth_data.password.decode() == password)
    return AuthResult(success=ok, handled=False)


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
params = dict(authenticator=authenticator, auth_required=True)
if mode == "implicit":
    controller = Controller(Handler(), hostname="127.0.0.1", port=int(port),
                            ssl_context=ctx, auth_require_tls=False, **params)
else:
    controller = Controller(Handler(), hostname="127.0.0.1", port=int(port),
                            tls_context=ctx, require_starttls=True,
                            auth_require_tls=True, **params)
controller.start()
print("READY", flush=True)
sys.stdin.read()
controller.stop()
