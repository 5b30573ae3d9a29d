using System.Linq;

namespace QemuGuest.Schema.Tests;

public class OverlayTests
{
    private static readonly QapiSchema Schema = TestFiles.Load("valid/overlay-schema.json");

    private static PowerShellOverlay Load() => OverlayLoader.Load("valid/overlay.json", TestFiles.Read("valid/overlay.json")!, Schema);

    [Fact]
    public void CommandsCmdletsAndImpact()
    {
        var o = Load();
        Assert.Equal(4, o.Commands.Count);
        var ping = o.Find("guest-ping")!;
        Assert.Equal("Test", ping.Verb);
        Assert.Equal("VMGuestAgent", ping.Noun);
        Assert.Null(ping.ConfirmImpact);
        Assert.True(ping.Parameters.IsEmpty);
        Assert.Equal("High", o.Find("guest-shutdown")!.ConfirmImpact);
        Assert.Equal(new SourceLocation("valid/overlay.json", 8, 1), ping.Location);
        Assert.Null(o.Find("guest-nothing"));
    }

    [Fact]
    public void Parameters()
    {
        var read = Load().Find("guest-file-read")!;
        var handle = read.Parameters[0];
        Assert.Equal("handle", handle.Member);
        Assert.Equal(0, handle.Position);
        Assert.Null(handle.Name);
        Assert.Equal(new[] { "Id", "FileHandle" }, handle.Aliases.ToArray());
        var count = read.Parameters[1];
        Assert.Equal("Size", count.Name);
        Assert.Equal(1, count.Position);
        Assert.True(count.Aliases.IsEmpty);
        var seek = Load().Find("guest-file-seek")!;
        Assert.Equal(new[] { "handle", "offset" }, seek.Parameters.Select(p => p.Member).ToArray());
    }

    [Fact]
    public void ValueEqualForCaching()
    {
        Assert.Equal(Load(), Load());
    }

    [Fact]
    public void ApprovedVerbsAreThoseOfPowerShell76()
    {
        Assert.Equal(100, PowerShellVerbs.Approved.Count);
        Assert.Contains("Get", PowerShellVerbs.Approved);
        Assert.Contains("Unprotect", PowerShellVerbs.Approved);
        Assert.DoesNotContain("Fetch", PowerShellVerbs.Approved);
    }
}
