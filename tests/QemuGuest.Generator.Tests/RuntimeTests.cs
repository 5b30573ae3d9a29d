using System.Linq;
using System.Text.Json;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Marshalling;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Generator.Tests;

/// <summary>The hand-written runtime the generated code stands on: paths, built-in readers, conditions.</summary>
public sealed class RuntimeTests
{
    [Fact]
    public void PathsAreNamedLikeQemu()
    {
        var root = QapiPath.Root;
        Assert.Equal("<anonymous>", root.FullName);
        Assert.Equal("null", root.BareName);
        Assert.Equal("vcpus[0].online", root.Member("vcpus").Element(0).Member("online").FullName);
        Assert.Equal("online", root.Member("vcpus").Element(0).Member("online").BareName);
        Assert.Equal("a[1][2]", root.Member("a").Element(1).Element(2).FullName);
        Assert.Equal("null", root.Member("a").Element(1).BareName);
        Assert.Equal("[3]", root.Element(3).FullName);
        Assert.Equal("a.b.c", root.Member("a").Member("b").Member("c").FullName);
    }

    [Theory]
    [InlineData("1", "1")]
    [InlineData("-0", "0")]
    [InlineData("9223372036854775807", "9223372036854775807")]
    [InlineData("-9223372036854775808", "-9223372036854775808")]
    [InlineData("9223372036854775808", "Invalid parameter type for 'x', expected: integer")]
    [InlineData("1.0", "Invalid parameter type for 'x', expected: integer")]
    [InlineData("1e3", "Invalid parameter type for 'x', expected: integer")]
    [InlineData("\"1\"", "Invalid parameter type for 'x', expected: integer")]
    [InlineData("null", "Invalid parameter type for 'x', expected: integer")]
    public void IntegersAreIntegerLiterals(string json, string expected) =>
        Assert.Equal(expected, Try(json, (e, p) => QapiJson.ReadInt(e, p).ToString(System.Globalization.CultureInfo.InvariantCulture)));

    [Theory]
    [InlineData("18446744073709551615", "18446744073709551615")]
    [InlineData("-1", "18446744073709551615")]
    [InlineData("1.5", "Parameter 'x' expects uint64")]
    [InlineData("true", "Parameter 'x' expects uint64")]
    [InlineData("18446744073709551616", "Parameter 'x' expects uint64")]
    public void UInt64AcceptsNegativeInt64LikeQemu(string json, string expected) =>
        Assert.Equal(expected, Try(json, (e, p) => QapiJson.ReadUInt64(e, p).ToString(System.Globalization.CultureInfo.InvariantCulture)));

    [Theory]
    [InlineData("127", "127")]
    [InlineData("128", "Parameter 'x' expects int8")]
    [InlineData("-129", "Parameter 'x' expects int8")]
    [InlineData("1.5", "Invalid parameter type for 'x', expected: integer")]
    public void SizedIntegersCheckTheirRange(string json, string expected) =>
        Assert.Equal(expected, Try(json, (e, p) => QapiJson.ReadInt8(e, p).ToString(System.Globalization.CultureInfo.InvariantCulture)));

    [Theory]
    [InlineData("true", "True")]
    [InlineData("1", "Invalid parameter type for 'x', expected: boolean")]
    [InlineData("\"true\"", "Invalid parameter type for 'x', expected: boolean")]
    public void Booleans(string json, string expected) =>
        Assert.Equal(expected, Try(json, (e, p) => QapiJson.ReadBool(e, p).ToString()));

    [Theory]
    [InlineData("1", "1")]
    [InlineData("1.5e300", "1.5E+300")]
    [InlineData("\"1\"", "Invalid parameter type for 'x', expected: number")]
    public void Numbers(string json, string expected) =>
        Assert.Equal(expected, Try(json, (e, p) => QapiJson.ReadNumber(e, p).ToString(System.Globalization.CultureInfo.InvariantCulture)));

    [Fact]
    public void NullAndStrings()
    {
        Assert.Equal("null", Try("null", (e, p) => QapiJson.ReadNull(e, p).ToString()));
        Assert.Equal("Invalid parameter type for 'x', expected: null", Try("0", (e, p) => QapiJson.ReadNull(e, p).ToString()));
        Assert.Equal("Invalid parameter type for 'x', expected: string", Try("null", (e, p) => QapiJson.ReadString(e, p)));
    }

    [Fact]
    public void ListsCompareByValue()
    {
        var a = new QapiList<string>(new[] { "a", "b" });
        Assert.Equal(a, new QapiList<string>(new[] { "a", "b" }));
        Assert.True(a.Equals((System.Collections.Generic.IReadOnlyList<string>)new[] { "a", "b" }));
        Assert.NotEqual(a, new QapiList<string>(new[] { "a" }));
        Assert.Equal(a.GetHashCode(), new QapiList<string>(new[] { "a", "b" }).GetHashCode());
    }

    [Fact]
    public void ConditionsFollowThePlatformTable()
    {
        var freeze = QgaCondition.Any(QgaCondition.Symbol("CONFIG_WIN32"), QgaCondition.Symbol("CONFIG_FSFREEZE"));
        Assert.True(freeze.Evaluate(QgaPlatform.Linux));
        Assert.True(freeze.Evaluate(QgaPlatform.Windows));
        Assert.True(freeze.Evaluate(QgaPlatform.FreeBsd));
        Assert.False(freeze.Evaluate(QgaPlatform.MacOS));
        var notWin = QgaCondition.Not(QgaCondition.Symbol("CONFIG_WIN32"));
        Assert.False(notWin.Evaluate(QgaPlatform.Windows));
        Assert.True(notWin.Evaluate(QgaPlatform.Linux));
        Assert.False(QgaCondition.All(QgaCondition.Symbol("CONFIG_LINUX"), QgaCondition.Symbol("CONFIG_UNKNOWN")).Evaluate(QgaPlatform.Linux));
        Assert.Equal("any(CONFIG_WIN32, CONFIG_FSFREEZE)", freeze.ToString());
        Assert.Same(QgaPlatform.Linux, QgaPlatform.Current); // these tests run on Linux
    }

    [Fact]
    public void RealSchemaCommandSetsPerPlatform()
    {
        string[] Names(QgaPlatform p) => QgaSchemaDescriptors.Commands.Where(c => c.Info.IsAvailableOn(p)).Select(c => c.Name).ToArray();
        var linux = Names(QgaPlatform.Linux);
        var windows = Names(QgaPlatform.Windows);
        Assert.Contains("guest-fstrim", linux);
        Assert.Contains("guest-get-diskstats", linux);
        Assert.DoesNotContain("guest-get-devices", linux);
        Assert.Contains("guest-get-devices", windows);
        Assert.Contains("guest-fsfreeze-freeze", windows);
        Assert.DoesNotContain("guest-get-diskstats", windows);
        Assert.All(new[] { "guest-shutdown", "guest-suspend-disk", "guest-suspend-ram", "guest-suspend-hybrid" },
            c => Assert.False(QgaSchemaDescriptors.Validator.Find(c)!.SuccessResponse));
    }

    [Fact]
    public void ReturnValidation()
    {
        using var ok = JsonDocument.Parse("""{"count":3,"buf-b64":"YWJj","eof":true}""");
        Assert.Null(QgaSchemaDescriptors.Validator.ValidateReturn("guest-file-read", ok.RootElement));
        using var bad = JsonDocument.Parse("""{"count":3,"eof":true}""");
        Assert.Equal("Parameter 'buf-b64' is missing", QgaSchemaDescriptors.Validator.ValidateReturn("guest-file-read", bad.RootElement));
        using var empty = JsonDocument.Parse("{}");
        Assert.Null(QgaSchemaDescriptors.Validator.ValidateReturn("guest-ping", empty.RootElement));
        using var notEmpty = JsonDocument.Parse("""{"x":1}""");
        Assert.Equal("Parameter 'x' is unexpected", QgaSchemaDescriptors.Validator.ValidateReturn("guest-ping", notEmpty.RootElement));
        using var number = JsonDocument.Parse("1000");
        Assert.Null(QgaSchemaDescriptors.Validator.ValidateReturn("guest-file-open", number.RootElement));
    }

    private static string Try(string json, System.Func<JsonElement, QapiPath, string> read)
    {
        using var doc = JsonDocument.Parse(json);
        try
        {
            return read(doc.RootElement, QapiPath.Root.Member("x"));
        }
        catch (QapiUnmarshalException e)
        {
            return e.Message;
        }
    }
}
