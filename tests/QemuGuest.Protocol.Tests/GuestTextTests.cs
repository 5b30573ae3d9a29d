namespace QemuGuest.Protocol.Tests;

public class GuestTextTests
{
    [Theory]
    [InlineData("plain host-name", "plain host-name")]
    [InlineData("a\u001b]52;c;ZXZpbA==\u0007b", "a\\u001b]52;c;ZXZpbA==\\u0007b")]
    [InlineData("\u001b]0;pwned\u0007", "\\u001b]0;pwned\\u0007")]
    [InlineData("x\u009b31my", "x\\u009b31my")]
    [InlineData("del\u007f", "del\\u007f")]
    [InlineData("evil\u202Etxt.exe", "evil\\u202etxt.exe")]
    [InlineData("iso\u2066x\u2069", "iso\\u2066x\\u2069")]
    [InlineData("line1\nline2\ttab", "line1\\u000aline2\\u0009tab")]
    [InlineData("über ✓", "über ✓")]
    public void Single_line_text_gets_every_control_escaped(string raw, string shown)
    {
        Assert.Equal(shown, GuestText.Printable(raw));
    }

    [Fact]
    public void Multiline_text_keeps_lines_but_not_a_lone_carriage_return()
    {
        Assert.Equal("one\r\ntwo\n\tthree", GuestText.Printable("one\r\ntwo\n\tthree", multiline: true));
        Assert.Equal("ok\\u000dfake prompt\n", GuestText.Printable("ok\rfake prompt\n", multiline: true));
        Assert.Equal("\\u001b[2J", GuestText.Printable("\u001b[2J", multiline: true));
    }

    [Fact]
    public void Unchanged_text_is_not_copied()
    {
        string s = "nothing to escape";
        Assert.Same(s, GuestText.Printable(s));
        Assert.Equal(string.Empty, GuestText.Printable((string?)null));
    }

    [Fact]
    public void An_agent_error_message_is_printable_and_the_description_raw()
    {
        var e = QgaCommandException.Create("guest-exec", "GenericError", "failed \u001b]0;owned\u0007");
        Assert.DoesNotContain('\u001b', e.Message);
        Assert.Contains("\\u001b]0;owned\\u0007", e.Message);
        Assert.Equal("failed \u001b]0;owned\u0007", e.Description);
    }
}
