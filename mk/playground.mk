# The playground's browser tests (tests/integration/playground/) drive the system Chromium
# through Playwright: Playwright's own browser download is not reachable from our machines.
# Included from the main Makefile; `setup` (and so `make test`) installs it once, as root or
# through sudo. Elsewhere, point the tests at any Chromium with VISION_STACK_CHROMIUM=PATH.

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: browser

setup: browser

browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || test -n "$$VISION_STACK_CHROMIUM" || \
		{ $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
