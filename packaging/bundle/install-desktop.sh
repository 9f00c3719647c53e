#!/usr/bin/env bash
# Register this unpacked Twinsight bundle with the desktop: menu entry, icon and the .twin
# file type (double-click opens a case). Per user (~/.local/share) by default; as root with
# --system, for everyone (/usr/local/share). The bundle itself stays where it was unpacked.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
if [ "${1:-}" = "--system" ]; then
  DATA=/usr/local/share
fi
mkdir -p "$DATA/applications" "$DATA/mime/packages" "$DATA/icons/hicolor/scalable/apps" \
  "$DATA/icons/hicolor/256x256/apps" "$DATA/icons/hicolor/scalable/mimetypes"
sed "s|@BUNDLE@|$HERE|g" "$HERE/share/applications/twinsight.desktop" \
  >"$DATA/applications/twinsight.desktop"
cp "$HERE/share/mime/packages/twinsight.xml" "$DATA/mime/packages/twinsight.xml"
cp "$HERE/share/icons/hicolor/scalable/apps/twinsight.svg" "$DATA/icons/hicolor/scalable/apps/"
cp "$HERE/share/icons/hicolor/scalable/apps/twinsight.svg" \
  "$DATA/icons/hicolor/scalable/mimetypes/application-x-twinsight-case.svg"
if [ -f "$HERE/share/icons/hicolor/256x256/apps/twinsight.png" ]; then
  cp "$HERE/share/icons/hicolor/256x256/apps/twinsight.png" "$DATA/icons/hicolor/256x256/apps/"
fi
# The caches are refreshed where the tools exist (shared-mime-info, desktop-file-utils).
command -v update-mime-database >/dev/null && update-mime-database "$DATA/mime" || true
command -v update-desktop-database >/dev/null && update-desktop-database "$DATA/applications" || true
echo "Twinsight registered in $DATA (menu entry, icon, .twin files)."
