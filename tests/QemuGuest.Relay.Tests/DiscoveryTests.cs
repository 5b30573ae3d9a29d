using System;
using System.IO;
using System.Linq;
using Microsoft.Extensions.Logging.Abstractions;
using QemuGuest.Relay.Configuration;
using QemuGuest.Relay.Discovery;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

public class DiscoveryTests
{
    [Fact]
    public void Finds_directory_proxmox_and_libvirt_layouts()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["plain"]);
        File.WriteAllText(Path.Combine(dir["plain"], "web1.sock"), "");
        File.WriteAllText(Path.Combine(dir["plain"], "notes.txt"), "");
        Directory.CreateDirectory(dir["pve"]);
        File.WriteAllText(Path.Combine(dir["pve"], "101.qga"), "");
        File.WriteAllText(Path.Combine(dir["pve"], "101.qmp"), "");
        string domain = Path.Combine(dir["lv"], "domain-3-db01");
        Directory.CreateDirectory(domain);
        File.WriteAllText(Path.Combine(domain, "org.qemu.guest_agent.0"), "");
        Directory.CreateDirectory(Path.Combine(dir["lv"], "domain-4-empty"));

        var o = new RelayOptions();
        o.Discovery.Directories.Add(dir["plain"]);
        o.Discovery.Proxmox = true;
        o.Discovery.ProxmoxDirectory = dir["pve"];
        o.Discovery.Libvirt = true;
        o.Discovery.LibvirtDirectory = dir["lv"];
        o.Vms["web1"] = new VmOptions { Agent = "/configured" };

        var found = VmDiscovery.Scan(o, NullLogger.Instance).ToDictionary(v => v.Name);
        Assert.Equal(new[] { "101", "db01" }, found.Keys.OrderBy(k => k, StringComparer.Ordinal));
        Assert.Equal(Path.Combine(dir["pve"], "101.qga"), found["101"].Agent);
        Assert.Null(found["101"].Qmp);
        Assert.Equal("libvirt", found["db01"].Source);
    }

    [Fact]
    public void Discovery_is_off_by_default()
    {
        Assert.Empty(VmDiscovery.Scan(new RelayOptions(), NullLogger.Instance));
    }
}
