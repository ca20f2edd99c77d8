"""What talosnb reads: the pkgs and talos checkouts, the Pkgfile, and a kernel tree (a folder,
a tarball, or a verified download)."""
