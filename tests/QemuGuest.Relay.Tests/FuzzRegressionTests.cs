using System.Text;
using QemuGuest.Relay.Wire;

namespace QemuGuest.Relay.Tests;

/// <summary>Inputs the relay-validation and agent-dispatch fuzz targets found, as the relay sees them.</summary>
public class FuzzRegressionTests
{
    [Theory]
    [InlineData("{\"execute\":\"guest-ping\",\"argument\x91\":[]}", "invalid UTF-8 sequence in string")]
    [InlineData("{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/echo\",\"inp\x96t-data\":\"aGkK\"}}", "invalid UTF-8 sequence in string")]
    [InlineData("{\"return\": {\"host-name\": \"\\udc00\"}}", "\\udc00 is not a valid Unicode character")]
    public void Bad_strings_are_refused_by_the_strict_parse_before_any_check_reads_them(string latin1, string error)
    {
        Assert.Null(BoundedJson.TryParse(Encoding.Latin1.GetBytes(latin1), 64, out string? why));
        Assert.Equal(error, why);
    }
}
