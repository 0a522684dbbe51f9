"""An SMTP server on loopback for tests/alerts.rs (aiosmtpd). It asks for a login, and saves each
message it accepts to FOLDER as NNNN.json: the envelope, the raw message, and its subject and
text body decoded as a mail reader would show them.

    python smtpd.py FOLDER USER PASSWORD

Prints the port it listens on (chosen by the system), then serves until its standard input
closes: the test holds it open, so the server never outlives the test.
"""

import asyncio
import email
import email.policy
import json
import logging
import os
import socket
import sys
import threading
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

folder, user, password = sys.argv[1:4]
# Expected here: a login without TLS, on loopback.
warnings.filterwarnings("ignore")
logging.getLogger("mail.log").setLevel(logging.ERROR)


class Saver:
    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = parsed.get_body(preferencelist=("plain",))
        saved = {
            "login": session.auth_data,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(parsed["subject"]),
            "from": str(parsed["from"]),
            "to": str(parsed["to"]),
            "body": body.get_content() if body is not None else "",
            "raw": envelope.content.decode("utf-8", "replace"),
        }
        count = len([n for n in os.listdir(folder) if n.endswith(".json")])
        path = os.path.join(folder, f"{count:04}.json")
        # Written whole, then renamed: the test never reads half a message.
        with open(path + ".tmp", "w") as out:
            json.dump(saved, out)
        os.rename(path + ".tmp", path)
        return "250 Message accepted"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == user
        and auth_data.password.decode() == password
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login.decode() if ok else None)


async def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    loop = asyncio.get_running_loop()
    await loop.create_server(
        lambda: SMTP(
            Saver(),
            hostname="smtpd.test",
            authenticator=authenticate,
            auth_required=True,
            # Loopback only: the test's login needs no TLS.
            auth_require_tls=False,
        ),
        sock=sock,
    )
    print(sock.getsockname()[1], flush=True)
    closed = asyncio.Event()
    threading.Thread(
        target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(closed.set)), daemon=True
    ).start()
    await closed.wait()


asyncio.run(main())
