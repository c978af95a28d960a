# Molecule scenarios on podman systemd containers (run by `make test`).
# The images are built locally (tools/lab-images); the --internal network is
# created here (the podman driver cannot make an internal one) and removed,
# with every container, whether the scenario passes or fails.
MOLECULE_SCENARIOS ?= default
.PHONY: molecule

molecule: venv collections
	@command -v podman >/dev/null || { echo "molecule: podman is missing: apt-get install podman runc debootstrap"; exit 2; }
	@set -e; for s in $(MOLECULE_SCENARIOS); do \
	  prefix=vm$$$$$$s; net=$$prefix-net; image=$$(tools/lab-images/build.sh $${suite:-bookworm}); \
	  podman network create --internal --subnet 198.51.100.0/24 $$net >/dev/null; \
	  trap "podman rm -f -t 0 $$prefix-s1 $$prefix-s2 $$prefix-s3 $$prefix-client >/dev/null 2>&1; \
	        podman network rm -f $$net >/dev/null 2>&1" EXIT; \
	  echo "== molecule test -s $$s ($$image on $$net)"; \
	  VRRP_LAB_IMAGE=$$image VRRP_LAB_NET=$$net VRRP_LAB_PREFIX=$$prefix PATH=$(CURDIR)/$(VENV)/bin:$$PATH \
	    $(VENV)/bin/molecule test -s $$s; \
	done

TEST_TARGETS += molecule
