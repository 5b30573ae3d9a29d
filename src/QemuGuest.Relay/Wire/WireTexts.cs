using System.Text;

namespace QemuGuest.Relay.Wire;

/// <summary>Error texts the relay sends to clients where the stock agent has its own (parser errors).</summary>
internal static class WireTexts
{
    /// <summary>The stock agent's reply to a stray byte: 0xFF shows as U+FFFD.</summary>
    public static string Stray(byte b)
    {
        char c = b >= 0x80 ? '\uFFFD' : (char)b;
        return new StringBuilder("JSON parse error, stray '").Append(c).Append('\'').ToString();
    }

    public const string ExpectingValue = "JSON parse error, expecting value";

    public static string Invalid(string detail) => "JSON parse error, " + detail;

    public static string TooLarge(int max) => $"JSON parse error, message larger than {max} bytes";

    public static string TooDeep(int max) => $"JSON parse error, nesting deeper than {max}";

    public static string TooManyTokens(int max) => $"JSON parse error, more than {max} JSON tokens";
}
