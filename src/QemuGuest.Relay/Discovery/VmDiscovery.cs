using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using QemuGuest.Protocol.Transports;
using QemuGuest.Relay.Configuration;

namespace QemuGuest.Relay.Discovery;

/// <summary>
/// Finds agent chardev sockets in the common layouts. Returns definitions only; the registry
/// starts and stops VMs. Configured VMs always win over discovered ones of the same name.
/// A folder or socket whose owner is not trusted (root, the relay's user, Discovery:TrustedOwners),
/// that is a link, or that others can write to is skipped with a warning: whoever can put a
/// socket there would be taken for a VM and receive its commands.
/// </summary>
public static partial class VmDiscovery
{
    // One warning per path and reason, not one per rescan.
    private static readonly ConcurrentDictionary<string, byte> s_warned = new(StringComparer.Ordinal);

    public static List<VmDefinition> Scan(RelayOptions options, ILogger logger)
    {
        var found = new List<VmDefinition>();
        var d = options.Discovery;
        var owners = TrustedOwners(d);
        foreach (var dir in d.Directories)
        {
            foreach (var path in List(dir, "*", owners, logger))
            {
                string file = Path.GetFileName(path);
                if (!(file.EndsWith(".sock", StringComparison.Ordinal) || file.EndsWith(".qga", StringComparison.Ordinal)))
                {
                    continue;
                }

                Add(found, Path.GetFileNameWithoutExtension(file), path, null, null, options, "directory", owners, logger);
            }
        }

        if (d.Proxmox)
        {
            foreach (var path in List(d.ProxmoxDirectory, "*.qga", owners, logger))
            {
                string vmid = Path.GetFileNameWithoutExtension(path);
                // Not <vmid>.qmp: a QMP socket serves one client at a time and qemu-server needs
                // it. Give the relay its own monitor in the VM config to get port events.
                Add(found, vmid, path, null, null, options, "proxmox", owners, logger);
            }
        }

        if (d.Libvirt && Directory.Exists(d.LibvirtDirectory) && IsTrusted(d.LibvirtDirectory, owners, logger))
        {
            string[] domains;
            try
            {
                domains = Directory.GetDirectories(d.LibvirtDirectory);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.DiscoveryFailed(logger, d.LibvirtDirectory, e.Message);
                domains = Array.Empty<string>();
            }

            foreach (var domain in domains)
            {
                string path = Path.Combine(domain, "org.qemu.guest_agent.0");
                if (File.Exists(path) && IsTrusted(domain, owners, logger))
                {
                    // domain-<id>-<name>; libvirt shortens long names, which is fine for a socket name.
                    var m = LibvirtDomain().Match(Path.GetFileName(domain));
                    Add(found, m.Success ? m.Groups[1].Value : Path.GetFileName(domain), path, null, null, options, "libvirt", owners, logger);
                }
            }
        }

        return found;
    }

    private static void Add(List<VmDefinition> found, string name, string path, string? qmp, string? qmpPort, RelayOptions options, string source, uint[] owners, ILogger logger)
    {
        if (!VmNames.IsValid(name))
        {
            Log.DiscoveryBadName(logger, Protocol.GuestText.Printable(name), Protocol.GuestText.Printable(path));
            return;
        }

        if (!IsTrusted(path, owners, logger, TrustedPathKind.Socket))
        {
            return;
        }

        if (options.Vms.ContainsKey(name) || found.Exists(v => v.Name == name))
        {
            return;
        }

        found.Add(new VmDefinition(name, path, qmp, qmpPort, RelayRegistry.DefaultEndpoints(options), source));
    }

    private static string[] List(string dir, string pattern, uint[] owners, ILogger logger)
    {
        try
        {
            return Directory.Exists(dir) && IsTrusted(dir, owners, logger) ? Directory.GetFiles(dir, pattern) : Array.Empty<string>();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.DiscoveryFailed(logger, dir, e.Message);
            return Array.Empty<string>();
        }
    }

    private static bool IsTrusted(string path, uint[] owners, ILogger logger, TrustedPathKind kind = TrustedPathKind.Directory)
    {
        var trust = UnixPathTrust.Check(path, kind, owners);
        if (trust.Verdict != PathTrustVerdict.Untrusted)
        {
            // Missing or unreadable: listing it fails (or finds nothing) the usual way.
            return true;
        }

        if (s_warned.TryAdd(trust.ToString(), 0))
        {
            Log.DiscoveryUntrusted(logger, Protocol.GuestText.Printable(path), Protocol.GuestText.Printable(trust.Path), trust.Reason);
        }

        return false;
    }

    // Names that do not resolve are refused at start (RelayOptionsValidator); a user deleted
    // since then simply stops being trusted.
    private static uint[] TrustedOwners(DiscoveryOptions d)
    {
        var uids = new List<uint>();
        foreach (var owner in d.TrustedOwners)
        {
            if (UnixPathTrust.ResolveOwner(owner) is uint uid)
            {
                uids.Add(uid);
            }
        }

        return uids.ToArray();
    }

    [GeneratedRegex("^domain-[0-9]+-(.+)$")]
    private static partial Regex LibvirtDomain();
}
