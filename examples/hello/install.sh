#!/bin/sh
# Runs inside the `hello` layer's build container (see stacker.yaml): installs the application.
set -e
mkdir -p /usr/share/hello /usr/local/bin
# Record what was installed, from what, by whom (uid 0 inside the user namespace).
{
  echo "installed: hello 1.0"
  echo "config: /etc/app/config.json"
  echo "by-uid: $(id -u)"
} > /usr/share/hello/installed
cat > /usr/local/bin/hello <<'SCRIPT'
#!/bin/sh
config=${APP_CONFIG:-/etc/app/config.json}
sed -n 's/.*"greeting": *"\([^"]*\)".*/\1/p' "$config"
SCRIPT
chmod 0755 /usr/local/bin/hello
