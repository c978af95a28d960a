"""Pack the bundled agent for the role (runs on the controller).

usage: pack_agent.py SOURCE_DIR OUT_TGZ -> prints the sources' sha256
Only *.py files, sorted, with fixed owners and times: the same sources give
the same digest, which decides whether a target's copy must change.
"""

import hashlib
import io
import os
import sys
import tarfile


def sources(root):
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                yield os.path.relpath(path, os.path.dirname(root)), path


def main(root, out):
    digest = hashlib.sha256()
    with tarfile.open(out, "w:gz") as tar:
        for relative, path in sources(os.path.abspath(root)):
            with open(path, "rb") as handle:
                data = handle.read()
            digest.update(relative.encode() + b"\0" + data + b"\0")
            info = tarfile.TarInfo(relative)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    print(digest.hexdigest())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
