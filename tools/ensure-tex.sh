#!/bin/sh
# Make sure the system tools that render the report exist: xelatex with the LaTeX packages that
# nbconvert's template and ours load, pandoc, the DejaVu fonts (Greek and other Unicode),
# pdftotext/pdfinfo (the report tests), and KaTeX (libjs-katex, with its fonts), which the HTML
# page inlines so that it typesets its maths offline ($SCRATCHNET_KATEX may name another copy).
# Missing ones are installed when we are root on Debian;
# otherwise we stop at once with the one command to run, so `make report` never gets far enough
# to fail late with a LaTeX log.
set -eu

PACKAGES="texlive-xetex texlive-fonts-recommended texlive-plain-generic pandoc fonts-dejavu-core fonts-dejavu-extra poppler-utils libjs-katex"
DEJAVU=/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf
KATEX=${SCRATCHNET_KATEX:-/usr/share/javascript/katex}
STYLES="fontspec unicode-math graphicx caption float xcolor enumerate geometry amsmath amssymb
  textcomp upquote eurosym iftex fancyvrb grffile adjustbox hyperref titling longtable booktabs
  array calc enumitem ulem soul mathrsfs tcolorbox parskip"

# Sets $missing to what is not there (empty when all is).
check() {
  missing=""
  for tool in xelatex kpsewhich pandoc pdftotext pdfinfo; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
  done
  if command -v kpsewhich >/dev/null 2>&1; then
    found=$(for s in $STYLES; do echo "$s.sty"; done | xargs kpsewhich 2>/dev/null || true)
    for s in $STYLES; do
      case "$found" in */"$s.sty"*) ;; *) missing="$missing $s.sty" ;; esac
    done
  fi
  [ -f "$DEJAVU" ] || missing="$missing DejaVu-fonts"
  [ -f "$KATEX/katex.min.js" ] && [ -f "$KATEX/fonts/KaTeX_Main-Regular.woff2" ] || missing="$missing KaTeX"
}

check
[ -z "$missing" ] && exit 0

command="apt-get update && apt-get install -y --no-install-recommends $PACKAGES"
if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-tex: missing:$missing; installing the TeX tools and KaTeX (about 160 MB, 1-2 minutes)" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends $PACKAGES; } >&2; then
    echo "ensure-tex: error: installing the TeX tools failed; run: $command" >&2
    exit 1
  fi
  check
  [ -z "$missing" ] && exit 0
  echo "ensure-tex: error: still missing after the install:$missing" >&2
  exit 1
fi
echo "ensure-tex: error: the report needs$missing; install them with:" >&2
if [ -f /etc/debian_version ]; then
  if [ "$(id -u)" = 0 ]; then echo "  $command" >&2; else echo "  sudo sh -c '$command'" >&2; fi
else
  echo "  (not Debian) XeLaTeX with the LaTeX packages above, pandoc, poppler's pdftotext and" \
       "pdfinfo, the DejaVu fonts, and KaTeX (e.g. npm's katex; SCRATCHNET_KATEX=.../katex/dist)" >&2
fi
exit 1
