# `make deps`: the Debian packages the tests, the lab and the demo need
# (.ci/apt-packages, one per line). Every entry point (venv, so demo and test)
# runs it first: what is missing is installed with apt-get when we are root,
# else the exact command is printed and make stops. Nothing else is set up by hand.
APT_PACKAGES_FILE := .ci/apt-packages
.PHONY: deps

deps:
	@wanted=$$(grep -v '^#' $(APT_PACKAGES_FILE)) || { echo "make deps: cannot read $(APT_PACKAGES_FILE)" >&2; exit 2; }; \
	missing=$$(for p in $$wanted; do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; \
	  done | tr '\n' ' '); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
	  echo "make deps: missing Debian packages: $$missing(and no apt-get: a Debian/Ubuntu machine is needed)" >&2; exit 2; fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
	  echo "make deps: missing Debian packages: $$missing" >&2; \
	  echo "  run as root, or install them first: apt-get install -y $$missing" >&2; exit 2; fi; \
	echo "make deps: installing $$missing(apt-get, from $(APT_PACKAGES_FILE))"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null
