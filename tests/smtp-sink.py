"""An SMTP server on 127.0.0.1 for tests/notify.rs (aiosmtpd, Debian's
python3-aiosmtpd): each message it accepts is written to OUT_DIR as NNN.eml,
as received, and NNN.txt, its subject and text body decoded (so that a test
searching it is not fooled by base64 or quoted-printable).

    smtp-sink.py OUT_DIR accept|refuse-login

It binds a free port, prints it on the first line of stdout, and serves until
it is killed or 300 s have passed. refuse-login offers AUTH and answers every
login with 535.
"""

import asyncio
import email
import email.policy
import os
import sys

from aiosmtpd.smtp import SMTP, AuthResult


class Sink:
    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        n = len([f for f in os.listdir(self.out) if f.endswith(".eml")])
        message = email.message_from_bytes(raw, policy=email.policy.default)
        body = message.get_body(("plain",))
        text = "Subject: %s\n\n%s" % (
            message["subject"],
            body.get_content() if body is not None else "",
        )
        self.write("%03d.txt" % n, text.encode())
        self.write("%03d.eml" % n, raw)
        return "250 OK"

    def write(self, name, data):
        path = os.path.join(self.out, name)
        with open(path + ".part", "wb") as f:
            f.write(data)
        os.rename(path + ".part", path)


def refuse(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=False, handled=False)


async def main(out, mode):
    options = {}
    if mode == "refuse-login":
        options = {"authenticator": refuse, "auth_require_tls": False}
    elif mode != "accept":
        sys.exit("mode: accept or refuse-login")
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Sink(out), **options), "127.0.0.1", 0
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        try:
            await asyncio.wait_for(server.serve_forever(), 300)
        except asyncio.TimeoutError:
            pass


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
