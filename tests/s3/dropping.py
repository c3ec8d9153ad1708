"""A tiny S3 look-alike on 127.0.0.1 whose network drops mid-download, for
the tests of a bucket location that cannot be read to its end.

    dropping.py --port P --dir D --bucket B

It serves the files of D as the objects of bucket B (path-style requests,
keys relative to D): ListObjectsV2 (and V1), HeadObject, GetObject whole or
with a Range, GetBucketVersioning (never enabled), GetObjectLockConfiguration
(none), GetBucketLocation. A backup (a name ending in .age) is answered with
its full Content-Length but only the bytes of its first half, then the
connection is shut down and closed: every time, ranged requests included,
so no retry or resume can ever fetch its second half. Anything else (the
manifests) is served whole. Signatures are not checked: any Authorization
header, or none, will do. Writes are refused, unless:

    --writes slow --rate R   a PUT's body is taken in at R bytes a second,
                             then answered 200 with an ETag (and dropped:
                             nothing is stored), as a slow line would;
    --writes hang            a PUT's first 256 KiB are taken in, then nothing
                             more, and no answer, as a line that hangs.

--port 0 picks a free port. The port is the first line on stdout, and
nothing else is ever written there.
"""

import argparse
import email.utils
import hashlib
import os
import socket
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
CHUNK = 64 * 1024


class Objects:
    """The files of a folder as objects; ETags (MD5) computed once a version."""

    def __init__(self, root):
        self.root = os.path.realpath(root)
        self._etags = {}
        self._lock = threading.Lock()

    def keys(self):
        found = []
        for folder, dirs, files in os.walk(self.root):
            dirs.sort()
            for name in files:
                path = os.path.join(folder, name)
                if os.path.isfile(path):
                    found.append(os.path.relpath(path, self.root).replace(os.sep, "/"))
        return sorted(found)

    def path(self, key):
        """The file of `key`, or None (also for keys leading out of the folder)."""
        if not key or key.startswith("/") or "\0" in key:
            return None
        path = os.path.realpath(os.path.join(self.root, key))
        if not path.startswith(self.root + os.sep) or not os.path.isfile(path):
            return None
        return path

    def etag(self, path):
        st = os.stat(path)
        version = (path, st.st_size, st.st_mtime_ns)
        with self._lock:
            if version in self._etags:
                return self._etags[version]
        md5 = hashlib.md5()
        with open(path, "rb") as f:
            while block := f.read(CHUNK):
                md5.update(block)
        tag = f'"{md5.hexdigest()}"'
        with self._lock:
            self._etags[version] = tag
        return tag


def iso8601(mtime):
    t = datetime.fromtimestamp(mtime, timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def http_date(mtime):
    return email.utils.formatdate(mtime, usegmt=True)


def parse_range(header, size):
    """(first, last) of a single `bytes=` range; None to serve the whole
    object (no header, or one S3 would ignore); "unsatisfiable" for 416."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[len("bytes="):].strip().partition("-")
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                return "unsatisfiable"
            return max(size - n, 0), size - 1
        first = int(first)
        last = int(last) if last else size - 1
    except ValueError:
        return None
    if first >= size:
        return "unsatisfiable"
    if last < first:
        return None
    return first, min(last, size - 1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dropping-s3"

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):
        pass

    # ---- answers ----

    def send_xml(self, status, body, head_only=False):
        data = ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", "0" if head_only else str(len(data)))
        self.send_header("x-amz-request-id", uuid.uuid4().hex[:16].upper())
        self.end_headers()
        if not head_only:
            self.wfile.write(data)

    def send_error_xml(self, status, code, message, head_only=False, **extra):
        fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in extra.items())
        body = (
            f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{fields}"
            f"<Resource>{escape(self.path)}</Resource>"
            f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
        )
        self.send_xml(status, body, head_only)

    def drop(self):
        """Ends the connection here, as a network that went away would."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()

    # ---- requests ----

    def route(self):
        """(bucket, key, query) of a path-style request."""
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        path = url.path.lstrip("/")
        bucket, _, key = path.partition("/")
        return unquote(bucket), unquote(key), query

    def do_HEAD(self):
        self.answer(head_only=True)

    def do_GET(self):
        self.answer(head_only=False)

    def refuse_write(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.close_connection = True
        self.send_error_xml(403, "AccessDenied", "This test server is read-only")

    do_POST = do_DELETE = refuse_write

    def do_PUT(self):
        if self.server.writes == "refuse":
            return self.refuse_write()
        length = int(self.headers.get("Content-Length") or 0)
        if self.server.writes == "hang":
            self.rfile.read(min(length, 256 * 1024))
            # Until the client gives up (the connection's end wakes nobody
            # here: the server's process is killed with the test).
            time.sleep(3600)
            return
        left, block = length, max(self.server.rate // 10, 1)
        while left:
            took = self.rfile.read(min(block, left))
            if not took:
                return
            left -= len(took)
            time.sleep(0.1)
        self.send_response(200)
        self.send_header("ETag", f'"{uuid.uuid4().hex}"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def answer(self, head_only):
        bucket, key, query = self.route()
        if bucket != self.server.bucket:
            self.send_error_xml(
                404, "NoSuchBucket", "The specified bucket does not exist",
                head_only, BucketName=bucket,
            )
        elif key:
            self.get_object(key, head_only)
        elif "versioning" in query:
            self.send_xml(200, f'<VersioningConfiguration xmlns="{NS}"/>', head_only)
        elif "object-lock" in query:
            self.send_error_xml(
                404, "ObjectLockConfigurationNotFoundError",
                "Object Lock configuration does not exist for this bucket",
                head_only, BucketName=bucket,
            )
        elif "location" in query:
            self.send_xml(200, f'<LocationConstraint xmlns="{NS}"/>', head_only)
        elif head_only:
            # HeadBucket.
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.list_objects(bucket, query)

    def list_objects(self, bucket, query):
        one = lambda name: query.get(name, [""])[0]  # noqa: E731
        v2 = one("list-type") == "2"
        prefix, delimiter = one("prefix"), one("delimiter")
        after = one("start-after") if v2 else one("marker")
        url_encoded = one("encoding-type") == "url"
        enc = (lambda s: quote(s, safe="/~")) if url_encoded else (lambda s: s)  # noqa: E731

        contents, prefixes = [], []
        for key in self.server.objects.keys():
            if not key.startswith(prefix) or (after and key <= after):
                continue
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    common = key[: cut + len(delimiter)]
                    if common not in prefixes:
                        prefixes.append(common)
                    continue
            path = self.server.objects.path(key)
            if path is None:
                continue
            st = os.stat(path)
            contents.append(
                "<Contents>"
                f"<Key>{escape(enc(key))}</Key>"
                f"<LastModified>{iso8601(st.st_mtime)}</LastModified>"
                f"<ETag>{escape(self.server.objects.etag(path))}</ETag>"
                f"<Size>{st.st_size}</Size>"
                "<StorageClass>STANDARD</StorageClass>"
                "</Contents>"
            )
        parts = [
            f'<ListBucketResult xmlns="{NS}">',
            f"<Name>{escape(bucket)}</Name>",
            f"<Prefix>{escape(enc(prefix))}</Prefix>",
        ]
        if v2:
            parts.append(f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount>")
            if after:
                parts.append(f"<StartAfter>{escape(enc(after))}</StartAfter>")
        else:
            parts.append(f"<Marker>{escape(enc(after))}</Marker>")
        parts.append("<MaxKeys>1000</MaxKeys>")
        if delimiter:
            parts.append(f"<Delimiter>{escape(enc(delimiter))}</Delimiter>")
        if url_encoded:
            parts.append("<EncodingType>url</EncodingType>")
        parts.append("<IsTruncated>false</IsTruncated>")
        parts.extend(contents)
        parts.extend(
            f"<CommonPrefixes><Prefix>{escape(enc(p))}</Prefix></CommonPrefixes>"
            for p in prefixes
        )
        parts.append("</ListBucketResult>")
        self.send_xml(200, "".join(parts))

    def get_object(self, key, head_only):
        path = self.server.objects.path(key)
        if path is None:
            self.send_error_xml(
                404, "NoSuchKey", "The specified key does not exist.", head_only, Key=key
            )
            return
        st = os.stat(path)
        size = st.st_size
        wanted = None if head_only else parse_range(self.headers.get("Range"), size)
        if wanted == "unsatisfiable":
            self.send_error_xml(
                416, "InvalidRange", "The requested range is not satisfiable",
                ActualObjectSize=size,
            )
            return
        first, last = wanted if wanted else (0, size - 1)
        self.send_response(206 if wanted else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(last - first + 1))
        if wanted:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Last-Modified", http_date(st.st_mtime))
        self.send_header("ETag", self.server.objects.etag(path))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if head_only:
            return
        # A backup's second half never leaves this server.
        dropping = key.endswith(".age")
        end = min(last + 1, size // 2) if dropping else last + 1
        with open(path, "rb") as f:
            f.seek(first)
            at = first
            while at < end:
                block = f.read(min(CHUNK, end - at))
                if not block:
                    break
                self.wfile.write(block)
                at += len(block)
        if dropping and end < last + 1:
            self.drop()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that hangs up is what this server is for; anything else
        # goes to stderr, one line.
        err = sys.exc_info()[1]
        if not isinstance(err, (ConnectionError, TimeoutError)):
            print(f"dropping.py: {type(err).__name__}: {err}", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True, help="0 picks a free one")
    p.add_argument("--dir", required=True, help="the folder served as the bucket")
    p.add_argument("--bucket", required=True)
    p.add_argument("--writes", choices=["refuse", "slow", "hang"], default="refuse")
    p.add_argument("--rate", type=int, default=0, help="bytes a second, for --writes slow")
    args = p.parse_args()
    if not os.path.isdir(args.dir):
        print(f"dropping.py: no such folder: {args.dir}", file=sys.stderr)
        sys.exit(1)
    server = Server(("127.0.0.1", args.port), Handler)
    server.bucket = args.bucket
    server.writes = args.writes
    server.rate = args.rate
    server.objects = Objects(args.dir)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
