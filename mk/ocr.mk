# Grounding's OCR (gateway/evidence/ocr.py): Tesseract through tesserocr, whose wheel bundles
# libtesseract; the English model comes from Debian's tesseract-ocr-eng (Apache-2.0), read
# from /usr/share/tesseract-ocr/5/tessdata. Included from the main Makefile; `setup` (and so
# `make test`) installs it once, as root or through sudo. The gateway image installs it too.

OCR_SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: ocr-model

setup: ocr-model

ocr-model:
	@test -f /usr/share/tesseract-ocr/5/tessdata/eng.traineddata || \
		{ $(OCR_SUDO) apt-get update && $(OCR_SUDO) env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends tesseract-ocr-eng; }
