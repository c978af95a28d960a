"""Stand-in for ansible-test's pip bootstrap script (get-pip-X.Y.py).

ansible-test downloads get-pip from ci-files.testing.ansible.com, which this
lab cannot reach. This does the same job from what is reachable: pip from the
interpreter's ensurepip, then `pip install` of the requested packages (PyPI).
Run by ansible-test as `python -m get_pip_X_Y [get-pip options] PACKAGES`.
"""

import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main() -> None:
    # in a child: ensurepip sets PIP_CONFIG_FILE=/dev/null in its own process,
    # which would hide the site's pip configuration (index, CA) from the install
    subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"], check=True, stdout=subprocess.DEVNULL)
    args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
    if args:
        subprocess.run([sys.executable, "-m", "pip", "install", *args], check=True)


if __name__ == "__main__":
    main()
