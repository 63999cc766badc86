#!/bin/sh
# Make sure the system tools that render the PDF exist: xelatex and pandoc (nbconvert's LaTeX
# route), the DejaVu fonts (Greek and other Unicode), pdftotext/pdfinfo (the report tests).
# Missing ones are installed when we are root on Debian; otherwise we stop at once with the one
# command to run, so `make report` never gets far enough to fail late with a LaTeX log.
set -eu

PACKAGES="texlive-xetex texlive-fonts-recommended texlive-plain-generic pandoc fonts-dejavu-core poppler-utils"
DEJAVU=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

missing=""
for tool in xelatex pandoc pdftotext pdfinfo; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -f "$DEJAVU" ] || missing="$missing DejaVu-fonts"
[ -z "$missing" ] && exit 0

command="apt-get update && apt-get install -y --no-install-recommends $PACKAGES"
if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-tex: missing:$missing; installing the TeX tools (about 160 MB, 1-2 minutes)" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends $PACKAGES; } >&2; then
    echo "ensure-tex: error: installing the TeX tools failed; run: $command" >&2
    exit 1
  fi
  exit 0
fi
echo "ensure-tex: error: the PDF report needs$missing; install them with:" >&2
if [ -f /etc/debian_version ]; then
  echo "  sudo sh -c '$command'" >&2
else
  echo "  (not Debian) install XeLaTeX, pandoc, poppler's pdftotext and the DejaVu fonts" >&2
fi
exit 1
