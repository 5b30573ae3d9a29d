using System;
using System.Collections.Generic;
using System.IO;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using QemuGuest.Relay.Configuration;

namespace QemuGuest.Relay.Discovery;

/// <summary>
/// Finds agent chardev sockets in the common layouts. Returns definitions only; the registry
/// starts and stops VMs. Configured VMs always win over discovered ones of the same name.
/// </summary>
public static partial class VmDiscovery
{
    public static List<VmDefinition> Scan(RelayOptions options, ILogger logger)
    {
        var found = new List<VmDefinition>();
        var d = options.Discovery;
        foreach (var dir in d.Directories)
        {
            foreach (var path in List(dir, "*", logger))
            {
                string file = Path.GetFileName(path);
                if (!(file.EndsWith(".sock", StringComparison.Ordinal) || file.EndsWith(".qga", StringComparison.Ordinal)))
                {
                    continue;
                }

                Add(found, Path.GetFileNameWithoutExtension(file), path, null, null, options, "directory", logger);
            }
        }

        if (d.Proxmox)
        {
            foreach (var path in List(d.ProxmoxDirectory, "*.qga", logger))
            {
                string vmid = Path.GetFileNameWithoutExtension(path);
                // Not <vmid>.qmp: a QMP socket serves one client at a time and qemu-server needs
                // it. Give the relay its own monitor in the VM config to get port events.
                Add(found, vmid, path, null, null, options, "proxmox", logger);
            }
        }

        if (d.Libvirt && Directory.Exists(d.LibvirtDirectory))
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
                if (File.Exists(path))
                {
                    // domain-<id>-<name>; libvirt shortens long names, which is fine for a socket name.
                    var m = LibvirtDomain().Match(Path.GetFileName(domain));
                    Add(found, m.Success ? m.Groups[1].Value : Path.GetFileName(domain), path, null, null, options, "libvirt", logger);
                }
            }
        }

        return found;
    }

    private static void Add(List<VmDefinition> found, string name, string path, string? qmp, string? qmpPort, RelayOptions options, string source, ILogger logger)
    {
        if (!VmNames.IsValid(name))
        {
            Log.DiscoveryBadName(logger, name, path);
            return;
        }

        if (options.Vms.ContainsKey(name) || found.Exists(v => v.Name == name))
        {
            return;
        }

        found.Add(new VmDefinition(name, path, qmp, qmpPort, RelayRegistry.DefaultEndpoints(options), source));
    }

    private static string[] List(string dir, string pattern, ILogger logger)
    {
        try
        {
            return Directory.Exists(dir) ? Directory.GetFiles(dir, pattern) : Array.Empty<string>();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.DiscoveryFailed(logger, dir, e.Message);
            return Array.Empty<string>();
        }
    }

    [GeneratedRegex("^domain-[0-9]+-(.+)$")]
    private static partial Regex LibvirtDomain();
}
