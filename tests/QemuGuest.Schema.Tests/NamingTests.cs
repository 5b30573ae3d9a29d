namespace QemuGuest.Schema.Tests;

public class NamingTests
{
    [Theory]
    [InlineData("guest-file-open", "GuestFileOpen")]
    [InlineData("buf-b64", "BufB64")]
    [InlineData("GuestOSInfo", "GuestOSInfo")]
    [InlineData("supported_commands", "SupportedCommands")]
    [InlineData("__com.qemuguest_file-stat", "FileStat")]
    [InlineData("__org.example_GuestThing", "GuestThing")]
    [InlineData("q_obj_guest-exec-arg", "GuestExecArg")]
    [InlineData("q_obj_Paint-base", "PaintBase")]
    [InlineData("x-experimental", "XExperimental")]
    [InlineData("SOMETHING_HAPPENED", "SOMETHINGHAPPENED")]
    [InlineData("1st", "_1st")]
    [InlineData("a-b", "AB")]
    [InlineData("a_b", "AB")]
    [InlineData("ipv4", "Ipv4")]
    public void ToPascalCase(string wire, string expected) => Assert.Equal(expected, Naming.ToPascalCase(wire));

    [Theory]
    [InlineData("guest-file-open", "guestFileOpen")]
    [InlineData("GuestOSInfo", "guestOSInfo")]
    [InlineData("OSInfo", "osInfo")]
    [InlineData("string", "@string")]
    [InlineData("event", "@event")]
    [InlineData("default", "@default")]
    [InlineData("id", "id")]
    [InlineData("1st", "_1st")]
    public void ToCamelCase(string wire, string expected) => Assert.Equal(expected, Naming.ToCamelCase(wire));

    [Theory]
    [InlineData("__com.example_guest-ping", "__com.example", "guest-ping")]
    [InlineData("__org.qemu-project_Foo", "__org.qemu-project", "Foo")]
    [InlineData("guest-ping", null, "guest-ping")]
    [InlineData("__nounderscore", null, "__nounderscore")]
    [InlineData("_single", null, "_single")]
    public void DownstreamPrefix(string wire, string? prefix, string stripped)
    {
        Assert.Equal(prefix, Naming.DownstreamPrefix(wire));
        Assert.Equal(stripped, Naming.StripDownstreamPrefix(wire));
    }

    [Fact]
    public void CheckerUsesTheSameConversionForClashes()
    {
        // 'a-b' and 'a_b' both become "AB": the corpus case struct-member-clash-converted
        // relies on exactly this.
        Assert.Equal(Naming.ToPascalCase("a-b"), Naming.ToPascalCase("a_b"));
    }
}
