"""The libvirt driver: real KVM hosts, real disks, real guests (libvirt.md)."""
