// The agent suite runs the Linux agent and Debian's qemu-ga: Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
