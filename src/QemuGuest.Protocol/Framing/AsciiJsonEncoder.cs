using System;
using System.Text.Encodings.Web;

namespace QemuGuest.Protocol.Framing;

/// <summary>
/// The escaping the stock agent uses: everything outside printable ASCII (and '"', '\')
/// becomes an escape (\" \\ \b \f \n \r \t, otherwise \uXXXX with upper-case hex; astral
/// characters as two \uXXXX surrogate escapes). Unlike <see cref="JavaScriptEncoder.Default"/>
/// it leaves '&lt;', '&gt;', '&amp;', '\'' and '+' alone, so base64 payloads are not inflated.
/// The output is pure ASCII, so 0xFF never appears in it.
/// </summary>
public sealed class AsciiJsonEncoder : JavaScriptEncoder
{
    public static AsciiJsonEncoder Instance { get; } = new();

    private AsciiJsonEncoder()
    {
    }

    public override int MaxOutputCharactersPerInputCharacter => 12;

    public override bool WillEncode(int unicodeScalar) =>
        unicodeScalar < 0x20 || unicodeScalar >= 0x7F || unicodeScalar == '"' || unicodeScalar == '\\';

    public override unsafe int FindFirstCharacterToEncode(char* text, int textLength)
    {
        for (int i = 0; i < textLength; i++)
        {
            char c = text[i];
            if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\')
            {
                return i;
            }
        }

        return -1;
    }

    public override int FindFirstCharacterToEncodeUtf8(ReadOnlySpan<byte> utf8Text) =>
        StringRun.IndexOfStop(utf8Text, (byte)'"', 0x20, 0x7E);

    public override unsafe bool TryEncodeUnicodeScalar(int unicodeScalar, char* buffer, int bufferLength, out int numberOfCharactersWritten)
    {
        numberOfCharactersWritten = 0;
        if (!WillEncode(unicodeScalar))
        {
            if (bufferLength < 1)
            {
                return false;
            }

            buffer[0] = (char)unicodeScalar;
            numberOfCharactersWritten = 1;
            return true;
        }

        char shortForm = unicodeScalar switch
        {
            '"' => '"',
            '\\' => '\\',
            '\b' => 'b',
            '\f' => 'f',
            '\n' => 'n',
            '\r' => 'r',
            '\t' => 't',
            _ => '\0',
        };
        if (shortForm != '\0')
        {
            if (bufferLength < 2)
            {
                return false;
            }

            buffer[0] = '\\';
            buffer[1] = shortForm;
            numberOfCharactersWritten = 2;
            return true;
        }

        if (unicodeScalar >= 0x10000)
        {
            if (bufferLength < 12)
            {
                return false;
            }

            int v = unicodeScalar - 0x10000;
            WriteEscape(buffer, 0xD800 + (v >> 10));
            WriteEscape(buffer + 6, 0xDC00 + (v & 0x3FF));
            numberOfCharactersWritten = 12;
            return true;
        }

        if (bufferLength < 6)
        {
            return false;
        }

        WriteEscape(buffer, unicodeScalar);
        numberOfCharactersWritten = 6;
        return true;
    }

    private static unsafe void WriteEscape(char* buffer, int value)
    {
        const string Hex = "0123456789ABCDEF";
        buffer[0] = '\\';
        buffer[1] = 'u';
        buffer[2] = Hex[(value >> 12) & 0xF];
        buffer[3] = Hex[(value >> 8) & 0xF];
        buffer[4] = Hex[(value >> 4) & 0xF];
        buffer[5] = Hex[value & 0xF];
    }
}
