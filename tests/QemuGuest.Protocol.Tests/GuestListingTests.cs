using System.Threading.Tasks;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// find's records through guest-exec (the stock-agent listing strategy) and the guest-path
/// rules Get-VMGuestChildItem and the copy rely on: every value is the guest's, so a lying one is
/// a named failure or an "unknown", never a crash or a wrong number.
/// </summary>
public class GuestListingTests
{
    [Fact]
    public async Task FindRecordsCarryTypeSizeModeAndTime()
    {
        var lister = FindLister.Parse("f 5 644 1700000000.25 a.txt\0d 4096 2755 1700000001 sub\0l 7 777 1700000002.1234567891 sub/link\0p 0 600 0 fifo with space\0", new GuestListingBudget());
        var top = await lister.ListAsync("/x", "", 1, default);
        Assert.Equal(3, top.Count);
        Assert.Equal(("a.txt", GuestEntryKind.File, 5L, 420, false), (top[0].Name, top[0].Kind, top[0].Size, top[0].Mode, top[0].IsLink));
        Assert.Equal(1_700_000_000_250_000_000L, top[0].LastWriteNanoseconds);
        Assert.Equal(("sub", GuestEntryKind.Directory, 0x5ED), (top[1].Name, top[1].Kind, top[1].Mode));
        Assert.Equal(("fifo with space", GuestEntryKind.Other, false), (top[2].Name, top[2].Kind, top[2].IsLink));
        var sub = await lister.ListAsync("/x/sub", "sub", 2, default);
        Assert.Single(sub);
        Assert.Equal(("link", GuestEntryKind.Other, true), (sub[0].Name, sub[0].Kind, sub[0].IsLink));
        // Fractions past nanoseconds are cut, not rounded into the next second.
        Assert.Equal(1_700_000_002_123_456_789L, sub[0].LastWriteNanoseconds);
    }

    [Theory]
    [InlineData("99999999999")]
    [InlineData("123456789012345678901234567890.5")]
    [InlineData("9223372037")]
    public async Task ATimeBeyond64BitNanosecondsIsUnknownNotAnError(string time)
    {
        var top = await FindLister.Parse("f 1 644 " + time + " late\0", new GuestListingBudget()).ListAsync("/x", "", 1, default);
        Assert.Null(Assert.Single(top).LastWriteNanoseconds);
    }

    [Theory]
    [InlineData("f 0 644 0\0")] // no path
    [InlineData("f x 644 0 a\0")] // size not a number
    [InlineData("f 99999999999999999999 644 0 a\0")] // size past 64 bits
    [InlineData("f 0 9z 0 a\0")] // mode not octal
    [InlineData("f 0 1234567 0 a\0")] // mode too long
    [InlineData("f 0 644 1e9 a\0")] // time not decimal seconds
    [InlineData("f 0 644 . a\0")]
    [InlineData("d sub\0")] // the old two-field record
    [InlineData("ff 0 644 0 a\0")]
    public void AMalformedRecordIsInvalidGuestListing(string output)
    {
        var ex = Assert.Throws<TransferException>(() => FindLister.Parse(output, new GuestListingBudget()));
        Assert.Equal(TransferFailureKind.InvalidGuestListing, ex.Kind);
        Assert.DoesNotContain('\0', ex.Message);
    }

    [Theory]
    [InlineData("/", true)]
    [InlineData("/etc/hostname", true)]
    [InlineData("C:\\Windows", true)]
    [InlineData("c:/Windows", true)]
    [InlineData("\\\\server\\share", true)]
    [InlineData("etc/hostname", false)]
    [InlineData("./x", false)]
    [InlineData("..", false)]
    [InlineData("C:relative", false)]
    [InlineData("", false)]
    [InlineData("~/x", false)]
    public void OnlyAnAbsoluteGuestPathIsAbsolute(string path, bool absolute)
    {
        Assert.Equal(absolute, GuestTransferEngine.IsAbsolute(path));
    }

    [Theory]
    [InlineData("a.txt", false, true)]
    [InlineData("esc\u001b]0;x\u0007", false, true)] // a legal Linux name: raw in the object, escaped on the console
    [InlineData("a\\b", false, true)]
    [InlineData("a\\b", true, false)]
    [InlineData("..", false, false)]
    [InlineData(".", false, false)]
    [InlineData("", false, false)]
    [InlineData("../../x", false, false)]
    [InlineData("a\0b", false, false)]
    public void AListedNameGetsAFullNameOnlyWhenItNamesThatItem(string name, bool windowsGuest, bool joinable)
    {
        Assert.Equal(joinable, GuestChildItems.ComponentProblem(name, windowsGuest) is null);
    }
}
