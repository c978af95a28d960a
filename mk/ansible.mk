# The Ansible side: collection tree, lint, sanity, module tests (run by `make test`).
#
# ansible needs the collection under .../ansible_collections/linuxha/vrrp: we
# build that tree outside the repository (a symlink to it, plus containers.podman
# taken from the `ansible` bundle on PyPI, since Galaxy is not reachable), and
# point ANSIBLE_COLLECTIONS_PATH at it.
COLLECTIONS_DIR ?= /var/tmp/linuxha-vrrp-$(shell echo $(CURDIR) | sha256sum | cut -c1-10)
ANSIBLE_BUNDLE := ansible==12.3.0
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS_DIR)
ANSIBLE_ENV := PATH=$(CURDIR)/$(VENV)/bin:$$PATH ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS_DIR)

.PHONY: collections ansible-lint ansible-sanity ansible-build ansible-test print-collections

$(COLLECTIONS_DIR)/.stamp: requirements-dev.txt mk/ansible.mk $(VENV)/.stamp
	rm -rf $(COLLECTIONS_DIR) && mkdir -p $(COLLECTIONS_DIR)/ansible_collections/linuxha
	ln -s $(CURDIR) $(COLLECTIONS_DIR)/ansible_collections/linuxha/vrrp
	$(PY) -m pip download -q --no-deps $(ANSIBLE_BUNDLE) -d $(COLLECTIONS_DIR)/dl
	$(PY) -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
	  z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith("ansible_collections/containers/podman/")])' \
	  $(COLLECTIONS_DIR)/dl/ansible-*.whl $(COLLECTIONS_DIR)
	rm -rf $(COLLECTIONS_DIR)/dl
	touch $@

collections: venv $(COLLECTIONS_DIR)/.stamp

ansible-lint: collections
	$(ANSIBLE_ENV) $(VENV)/bin/ansible-lint --nocolor -q

# ansible-test must run from a real .../ansible_collections/linuxha/vrrp
# directory (not a symlink): sanity runs on a copy of the files git knows
# (committed or not), which covers plugins, roles, playbooks and the agent.
SANITY_DIR := $(COLLECTIONS_DIR)/sanity/ansible_collections/linuxha/vrrp
# ansible-core 2.19.14's ansible-test bootstraps pip 24.2 (python_requirements.py).
GET_PIP_CACHE := $(HOME)/.ansible/test/cache/get_pip_24_2.py

$(GET_PIP_CACHE): tools/ansible-test/get_pip.py
	mkdir -p $(dir $@) && cp $< $@

ansible-sanity: collections $(GET_PIP_CACHE)
	rm -rf $(COLLECTIONS_DIR)/sanity && mkdir -p $(SANITY_DIR)
	git ls-files -co --exclude-standard -z | grep -zEv '^(\.venv|\.ci/|bench/|tools/|molecule/|tests/(lab|unit|fixtures|ansible|tools)/)' \
	  | xargs -0 cp --parents -t $(SANITY_DIR)
	cd $(SANITY_DIR) && $(ANSIBLE_ENV) $(CURDIR)/$(VENV)/bin/ansible-test sanity --python 3.11 --color no

# The artifact holds the agent and nothing of the tests, benchmarks or lab.
ansible-build: collections
	rm -rf $(COLLECTIONS_DIR)/build
	$(VENV)/bin/ansible-galaxy collection build --output-path $(COLLECTIONS_DIR)/build >/dev/null
	tar tzf $(COLLECTIONS_DIR)/build/linuxha-vrrp-*.tar.gz > $(COLLECTIONS_DIR)/build/contents
	! grep -E '^(tests|bench|tools|molecule|mk|\.venv|\.hypothesis|\.ci)/|__pycache__|\.pyc$$' $(COLLECTIONS_DIR)/build/contents
	grep -qx 'files/agent/vrrp_agent/daemon.py' $(COLLECTIONS_DIR)/build/contents
	grep -qx 'roles/vrrp/tasks/main.yml' $(COLLECTIONS_DIR)/build/contents

ansible-test: ansible-lint ansible-sanity ansible-build

TEST_TARGETS += ansible-test

print-collections:
	@echo $(COLLECTIONS_DIR)
