using System;
using QemuGuest.Protocol.Transports;

namespace QemuGuest.Relay;

/// <summary>The relay cannot start safely; the message names the path and the reason.</summary>
public sealed class RelayStartupException : Exception
{
    public RelayStartupException(string runtimeDirectory, PathTrust trust)
        : base($"Relay:RuntimeDirectory {QemuGuest.Protocol.GuestText.Printable(runtimeDirectory)} is not safe to serve from: {trust}. "
            + "Use a folder only the relay's user can reach (systemd: RuntimeDirectory= with RuntimeDirectoryMode=0700).")
    {
        Path = trust.Path;
    }

    /// <summary>The offending path (the runtime directory or a folder above it).</summary>
    public string Path { get; }
}
