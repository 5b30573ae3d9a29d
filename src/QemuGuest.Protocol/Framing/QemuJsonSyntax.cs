using System;
using System.Collections.Generic;
using System.Text;

namespace QemuGuest.Protocol.Framing;

/// <summary>
/// The first error QEMU's json-lexer.c and json-parser.c find in one framed message, in their
/// words: "stray '01'", "expecting value", "missing : in object pair", "key is not a string in
/// object", "expected separator in list", "invalid keyword 'tru'", "invalid escape sequence in
/// string", "\u12\" is not a valid Unicode character", "duplicate key". Run only after the strict
/// parser refused a message, so a client hears what qemu-ga would have said.
/// </summary>
/// <remarks>
/// A lexer error comes first, as in QEMU, where it ends the message before the parser sees it.
/// Null when this finds nothing to say (the caller keeps its own text): a top-level scalar whose
/// lexing needs the byte after it (the framer does not hand that byte out), or a message the
/// framer cut differently from QEMU's streamer (several top-level tokens). Only the text is
/// QEMU's: after a lexer error qemu-ga also answers what follows the bad token on its own,
/// which this does not (docs/agent.md).
/// </remarks>
public static class QemuJsonSyntax
{
    private enum Kind : byte
    {
        End,
        LCurly,
        RCurly,
        LSquare,
        RSquare,
        Colon,
        Comma,
        String,
        Number,
        Keyword,
    }

    public static string? FirstError(ReadOnlySpan<byte> message)
    {
        var tokens = new List<(Kind Kind, int Start, int Length)>();
        string? lexError = Lex(message, tokens);
        if (lexError is not null)
        {
            return lexError;
        }

        if (tokens.Count == 0 || (tokens[0].Kind != Kind.LCurly && tokens[0].Kind != Kind.LSquare && tokens.Count > 1))
        {
            return null;
        }

        var parser = new Parser(message, tokens);
        parser.ParseValue();
        return parser.Error;
    }

    // json-lexer.c's table, for one message: tokens, or "stray '<token so far and the byte that
    // broke it>'".
    private static string? Lex(ReadOnlySpan<byte> m, List<(Kind, int, int)> tokens)
    {
        int i = 0;
        while (i < m.Length)
        {
            byte b = m[i];
            int start = i;
            switch (b)
            {
                case (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n':
                    i++;
                    continue;
                case (byte)'{':
                    tokens.Add((Kind.LCurly, i++, 1));
                    continue;
                case (byte)'}':
                    tokens.Add((Kind.RCurly, i++, 1));
                    continue;
                case (byte)'[':
                    tokens.Add((Kind.LSquare, i++, 1));
                    continue;
                case (byte)']':
                    tokens.Add((Kind.RSquare, i++, 1));
                    continue;
                case (byte)':':
                    tokens.Add((Kind.Colon, i++, 1));
                    continue;
                case (byte)',':
                    tokens.Add((Kind.Comma, i++, 1));
                    continue;
                case (byte)'"' or (byte)'\'':
                    i++;
                    while (true)
                    {
                        if (i >= m.Length)
                        {
                            return null; // not framed by us: nothing to say
                        }

                        byte c = m[i];
                        if (c < 0x20 || c >= 0xFE)
                        {
                            return Stray(m.Slice(start, i - start + 1));
                        }

                        i++;
                        if (c == b)
                        {
                            break;
                        }

                        if (c == (byte)'\\')
                        {
                            if (i >= m.Length)
                            {
                                return null;
                            }

                            if (m[i] < 0x20 || m[i] >= 0xFE)
                            {
                                return Stray(m.Slice(start, i - start + 1));
                            }

                            i++;
                        }
                    }

                    tokens.Add((Kind.String, start, i - start));
                    continue;
                case >= (byte)'a' and <= (byte)'z':
                    while (i < m.Length && m[i] >= (byte)'a' && m[i] <= (byte)'z')
                    {
                        i++;
                    }

                    tokens.Add((Kind.Keyword, start, i - start));
                    continue;
                case (byte)'-' or (>= (byte)'0' and <= (byte)'9'):
                {
                    int end = LexNumber(m, i, out bool broken);
                    if (broken)
                    {
                        // end is past the byte that broke the number; end == Length + 1 means the
                        // number ran to the end of the message, where QEMU would see the next byte.
                        return end > m.Length ? null : Stray(m.Slice(start, end - start));
                    }

                    tokens.Add((Kind.Number, start, end - start));
                    i = end;
                    continue;
                }

                default:
                    return Stray(m.Slice(i, 1));
            }
        }

        return null;
    }

    private enum NumberState : byte
    {
        Sign,
        Zero,
        Digits,
        Mantissa,
        MantissaDigits,
        ExpE,
        ExpSign,
        ExpDigits,
    }

    /// <summary>
    /// The end of the number starting at <paramref name="i"/>; when <paramref name="broken"/>, one
    /// past the byte that broke it (Length + 1 when the message ended first).
    /// </summary>
    private static int LexNumber(ReadOnlySpan<byte> m, int i, out bool broken)
    {
        NumberState state = m[i] == (byte)'-' ? NumberState.Sign : m[i] == (byte)'0' ? NumberState.Zero : NumberState.Digits;
        i++;
        while (true)
        {
            bool terminal = state is NumberState.Zero or NumberState.Digits or NumberState.MantissaDigits or NumberState.ExpDigits;
            if (i >= m.Length)
            {
                broken = !terminal;
                return terminal ? i : m.Length + 1;
            }

            int next = NextNumberState(state, m[i]);
            if (next == NoTransition && terminal)
            {
                broken = false; // QEMU's LOOKAHEAD: the byte is not part of the number
                return i;
            }

            if (next < 0)
            {
                broken = true; // JSON_ERROR takes the byte into the stray token
                return i + 1;
            }

            state = (NumberState)next;
            i++;
        }
    }

    private const int NoTransition = -1;
    private const int Error = -2;

    private static int NextNumberState(NumberState state, byte c)
    {
        bool digit = c >= (byte)'0' && c <= (byte)'9';
        bool e = c is (byte)'e' or (byte)'E';
        return state switch
        {
            NumberState.Sign => c == (byte)'0' ? (int)NumberState.Zero : digit ? (int)NumberState.Digits : NoTransition,
            NumberState.Zero => digit ? Error : c == (byte)'.' ? (int)NumberState.Mantissa : NoTransition,
            NumberState.Digits => digit ? (int)NumberState.Digits : e ? (int)NumberState.ExpE : c == (byte)'.' ? (int)NumberState.Mantissa : NoTransition,
            NumberState.Mantissa => digit ? (int)NumberState.MantissaDigits : NoTransition,
            NumberState.MantissaDigits => digit ? (int)NumberState.MantissaDigits : e ? (int)NumberState.ExpE : NoTransition,
            NumberState.ExpE => c is (byte)'-' or (byte)'+' ? (int)NumberState.ExpSign : digit ? (int)NumberState.ExpDigits : NoTransition,
            NumberState.ExpSign => digit ? (int)NumberState.ExpDigits : NoTransition,
            _ => digit ? (int)NumberState.ExpDigits : NoTransition,
        };
    }

    private static string Stray(ReadOnlySpan<byte> token) => "stray '" + Printable(token) + "'";

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length);
        foreach (byte b in bytes)
        {
            sb.Append(b is >= 0x20 and < 0x7F ? (char)b : '\uFFFD');
        }

        return sb.ToString();
    }

    // json-parser.c's parse_value / parse_object / parse_pair / parse_array / parse_string, for
    // the first error only (later ones are never reported).
    private ref struct Parser
    {
        private readonly ReadOnlySpan<byte> _m;
        private readonly List<(Kind Kind, int Start, int Length)> _tokens;
        private int _next;

        public Parser(ReadOnlySpan<byte> message, List<(Kind, int, int)> tokens)
        {
            _m = message;
            _tokens = tokens;
            _next = 0;
            Error = null;
        }

        public string? Error { get; private set; }

        private (Kind Kind, int Start, int Length) Peek() => _next < _tokens.Count ? _tokens[_next] : (Kind.End, 0, 0);

        private (Kind Kind, int Start, int Length) Pop() => _next < _tokens.Count ? _tokens[_next++] : (Kind.End, 0, 0);

        private bool Fail(string text)
        {
            Error ??= text;
            return false;
        }

        /// <summary>Parses one value; false on an error.</summary>
        public bool ParseValue() => ParseValue(out _, out _);

        private bool ParseValue(out bool isString, out string? text)
        {
            isString = false;
            text = null;
            var token = Peek();
            switch (token.Kind)
            {
                case Kind.LCurly:
                    return ParseObject();
                case Kind.LSquare:
                    return ParseArray();
                case Kind.String:
                    _next++;
                    isString = true;
                    return ParseString(token.Start, token.Length, out text);
                case Kind.Number:
                    _next++;
                    return true;
                case Kind.Keyword:
                    _next++;
                    string word = Encoding.ASCII.GetString(_m.Slice(token.Start, token.Length).ToArray());
                    return word is "true" or "false" or "null" || Fail("invalid keyword '" + word + "'");
                case Kind.End:
                    return Fail("premature EOI");
                default:
                    return Fail("expecting value");
            }
        }

        private bool ParseObject()
        {
            Pop();
            var keys = new HashSet<string>(StringComparer.Ordinal);
            if (Peek().Kind == Kind.End)
            {
                return Fail("premature EOI");
            }

            if (Peek().Kind == Kind.RCurly)
            {
                Pop();
                return true;
            }

            while (true)
            {
                if (!ParsePair(keys))
                {
                    return false;
                }

                var token = Pop();
                if (token.Kind == Kind.RCurly)
                {
                    return true;
                }

                if (token.Kind == Kind.End)
                {
                    return Fail("premature EOI");
                }

                if (token.Kind != Kind.Comma)
                {
                    return Fail("expected separator in dict");
                }
            }
        }

        private bool ParsePair(HashSet<string> keys)
        {
            if (Peek().Kind == Kind.End)
            {
                return Fail("premature EOI");
            }

            if (!ParseValue(out bool isString, out string? key))
            {
                return false;
            }

            if (!isString)
            {
                return Fail("key is not a string in object");
            }

            var colon = Pop();
            if (colon.Kind == Kind.End)
            {
                return Fail("premature EOI");
            }

            if (colon.Kind != Kind.Colon)
            {
                return Fail("missing : in object pair");
            }

            if (!ParseValue())
            {
                return Fail("Missing value in dict");
            }

            return keys.Add(key!) || Fail("duplicate key");
        }

        private bool ParseArray()
        {
            Pop();
            if (Peek().Kind == Kind.End)
            {
                return Fail("premature EOI");
            }

            if (Peek().Kind == Kind.RSquare)
            {
                Pop();
                return true;
            }

            while (true)
            {
                if (!ParseValue())
                {
                    return Fail("expecting value");
                }

                var token = Pop();
                if (token.Kind == Kind.RSquare)
                {
                    return true;
                }

                if (token.Kind == Kind.End)
                {
                    return Fail("premature EOI");
                }

                if (token.Kind != Kind.Comma)
                {
                    return Fail("expected separator in list");
                }
            }
        }

        // Escapes as parse_string checks them; UTF-8 and surrogates are JsonStringCheck's (it runs
        // before the strict parser, with QEMU's texts).
        private bool ParseString(int start, int length, out string? text)
        {
            ReadOnlySpan<byte> s = _m.Slice(start + 1, length - 2);
            var sb = new StringBuilder(s.Length);
            text = null;
            for (int i = 0; i < s.Length; i++)
            {
                byte b = s[i];
                if (b != (byte)'\\')
                {
                    sb.Append((char)b); // keys compare bytewise: a Latin-1 view is enough
                    continue;
                }

                int escape = i;
                byte e = i + 1 < s.Length ? s[i + 1] : (byte)0;
                i++;
                switch (e)
                {
                    case (byte)'"' or (byte)'\'' or (byte)'\\' or (byte)'/':
                        sb.Append((char)e);
                        break;
                    case (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t':
                        sb.Append('\\').Append((char)e);
                        break;
                    case (byte)'u':
                        int hex = 0;
                        int k = 0;
                        for (; k < 4 && i + 1 + k < s.Length && IsHex(s[i + 1 + k]); k++)
                        {
                            hex = (hex * 16) + HexValue(s[i + 1 + k]);
                        }

                        if (k < 4)
                        {
                            // QEMU prints the 6 bytes from the backslash, cut at the token's end
                            // (its closing quote included, as its C string ends there).
                            int shown = Math.Min(6, length - 1 - escape);
                            return Fail(Printable(_m.Slice(start + 1 + escape, shown)) + " is not a valid Unicode character");
                        }

                        sb.Append("\\u").Append(hex.ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
                        i += 4;
                        break;
                    default:
                        return Fail("invalid escape sequence in string");
                }
            }

            text = sb.ToString();
            return true;
        }

        private static bool IsHex(byte b) => b is (>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'f') or (>= (byte)'A' and <= (byte)'F');

        private static int HexValue(byte b) => b <= (byte)'9' ? b - '0' : (b | 0x20) - 'a' + 10;
    }
}
