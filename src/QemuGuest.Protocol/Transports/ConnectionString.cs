using System;
using System.Globalization;

namespace QemuGuest.Protocol.Transports;

/// <summary>Which kind of endpoint a <see cref="ConnectionString"/> names.</summary>
public enum TransportKind
{
    Unix,
    Tcp,
    NamedPipe,
    Vsock,
    CharacterDevice,
}

/// <summary>
/// The one place endpoint strings are parsed. Accepted forms:
/// <list type="bullet">
/// <item><c>unix:/run/qga.sock</c>, or a plain path (<c>/run/qga.sock</c>, <c>./qga.sock</c>, <c>C:\vm\qga.sock</c>)</item>
/// <item><c>tcp:host:5555</c>, <c>tcp:[::1]:5555</c>, or <c>host:5555</c> / <c>[::1]:5555</c></item>
/// <item><c>pipe:NAME</c>, <c>pipe:\\SERVER\pipe\NAME</c>, or <c>\\.\pipe\NAME</c></item>
/// <item><c>vsock:CID:PORT</c></item>
/// <item><c>serial:/dev/ttyS1</c>, or a plain path under <c>/dev/</c> or <c>\\.\</c> (not <c>\\.\pipe\</c>)</item>
/// </list>
/// </summary>
public sealed class ConnectionString
{
    private ConnectionString(TransportKind kind, string original, string? path = null, string? host = null, int port = 0, string? server = null, uint cid = 0)
    {
        Kind = kind;
        Original = original;
        Path = path;
        Host = host;
        Port = port;
        Server = server;
        Cid = cid;
    }

    public TransportKind Kind { get; }

    /// <summary>The text as given.</summary>
    public string Original { get; }

    /// <summary>Socket or device path (Unix, CharacterDevice), pipe name (NamedPipe).</summary>
    public string? Path { get; }

    public string? Host { get; }

    /// <summary>TCP or vsock port.</summary>
    public int Port { get; }

    /// <summary>Named pipe server ("." for the local machine).</summary>
    public string? Server { get; }

    public uint Cid { get; }

    public static ConnectionString Parse(string value)
    {
        if (value is null)
        {
            throw new ArgumentNullException(nameof(value));
        }

        string text = value.Trim();
        if (text.Length == 0)
        {
            throw Error(value, "it is empty");
        }

        if (TryStrip(text, "unix:", out string rest))
        {
            return rest.Length == 0 ? throw Error(value, "no socket path after 'unix:'") : new ConnectionString(TransportKind.Unix, value, path: rest);
        }

        if (TryStrip(text, "tcp:", out rest))
        {
            return ParseHostPort(value, rest) ?? throw Error(value, "expected tcp:HOST:PORT with PORT 1..65535");
        }

        if (TryStrip(text, "pipe:", out rest))
        {
            return ParsePipe(value, rest) ?? throw Error(value, "expected pipe:NAME or pipe:\\\\SERVER\\pipe\\NAME");
        }

        if (TryStrip(text, "vsock:", out rest))
        {
            string[] parts = rest.Split(':');
            if (parts.Length != 2
                || !uint.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out uint cid)
                || !uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out uint port)
                || port > int.MaxValue)
            {
                throw Error(value, "expected vsock:CID:PORT with decimal numbers");
            }

            return new ConnectionString(TransportKind.Vsock, value, cid: cid, port: (int)port);
        }

        if (TryStrip(text, "serial:", out rest))
        {
            return rest.Length == 0 ? throw Error(value, "no device path after 'serial:'") : new ConnectionString(TransportKind.CharacterDevice, value, path: rest);
        }

        // No scheme: a path, a pipe path, or host:port.
        if (text.StartsWith(@"\\", StringComparison.Ordinal))
        {
            if (text.StartsWith(@"\\.\Global\", StringComparison.OrdinalIgnoreCase) || (text.StartsWith(@"\\.\", StringComparison.Ordinal) && !IsPipePath(text)))
            {
                return new ConnectionString(TransportKind.CharacterDevice, value, path: text);
            }

            return ParsePipe(value, text) ?? throw Error(value, "a \\\\ path must be \\\\SERVER\\pipe\\NAME or a \\\\.\\ device");
        }

        if (LooksLikePath(text))
        {
            bool device = text.StartsWith("/dev/", StringComparison.Ordinal);
            return new ConnectionString(device ? TransportKind.CharacterDevice : TransportKind.Unix, value, path: text);
        }

        int scheme = text.IndexOf(':');
        if (scheme > 0 && text.Substring(0, scheme).IndexOf('[') < 0 && !IsAllDigits(text.Substring(scheme + 1).Split(':')[0]) && text.IndexOf("]:", StringComparison.Ordinal) < 0)
        {
            throw Error(value, $"unknown scheme '{text.Substring(0, scheme)}:' (use unix:, tcp:, pipe:, vsock: or serial:)");
        }

        return ParseHostPort(value, text)
            ?? throw Error(value, "not a path (start it with '/', './' or a drive letter), and not HOST:PORT");
    }

    public static bool TryParse(string value, out ConnectionString? result)
    {
        try
        {
            result = Parse(value);
            return true;
        }
        catch (FormatException)
        {
            result = null;
            return false;
        }
    }

    /// <summary>The transport this string names.</summary>
    public IGuestAgentTransport CreateTransport() => Kind switch
    {
        TransportKind.Unix => new UnixSocketTransport(Path!),
        TransportKind.Tcp => new TcpTransport(Host!, Port),
        TransportKind.NamedPipe => new NamedPipeTransport(Path!, Server!),
        TransportKind.Vsock => new VsockTransport(Cid, (uint)Port),
        TransportKind.CharacterDevice => new CharacterDeviceTransport(Path!),
        _ => throw new InvalidOperationException(),
    };

    /// <summary>Canonical form, e.g. <c>unix:/run/qga.sock</c>.</summary>
    public override string ToString() => CreateTransport().Endpoint;

    private static bool TryStrip(string text, string scheme, out string rest)
    {
        if (text.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            rest = text.Substring(scheme.Length);
            return true;
        }

        rest = string.Empty;
        return false;
    }

    private static ConnectionString? ParseHostPort(string original, string text)
    {
        string host;
        string portText;
        if (text.StartsWith("[", StringComparison.Ordinal))
        {
            int close = text.IndexOf("]:", StringComparison.Ordinal);
            if (close < 0)
            {
                return null;
            }

            host = text.Substring(1, close - 1);
            portText = text.Substring(close + 2);
        }
        else
        {
            int colon = text.LastIndexOf(':');
            if (colon <= 0 || text.IndexOf(':') != colon)
            {
                return null;
            }

            host = text.Substring(0, colon);
            portText = text.Substring(colon + 1);
        }

        if (host.Length == 0 || host.IndexOfAny(new[] { '/', '\\', ' ' }) >= 0
            || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            return null;
        }

        return new ConnectionString(TransportKind.Tcp, original, host: host, port: port);
    }

    private static ConnectionString? ParsePipe(string original, string text)
    {
        if (text.StartsWith(@"\\", StringComparison.Ordinal))
        {
            string[] parts = text.Substring(2).Split(new[] { '\\' }, 3);
            if (parts.Length != 3 || parts[0].Length == 0 || !parts[1].Equals("pipe", StringComparison.OrdinalIgnoreCase) || parts[2].Length == 0)
            {
                return null;
            }

            return new ConnectionString(TransportKind.NamedPipe, original, path: parts[2], server: parts[0]);
        }

        if (text.Length == 0 || text.IndexOfAny(new[] { '\\', '/' }) >= 0)
        {
            return null;
        }

        return new ConnectionString(TransportKind.NamedPipe, original, path: text, server: ".");
    }

    private static bool IsPipePath(string text)
    {
        string[] parts = text.Substring(2).Split('\\');
        return parts.Length >= 3 && parts[1].Equals("pipe", StringComparison.OrdinalIgnoreCase);
    }

    private static bool LooksLikePath(string text) =>
        text.StartsWith("/", StringComparison.Ordinal)
        || text.StartsWith("./", StringComparison.Ordinal)
        || text.StartsWith("../", StringComparison.Ordinal)
        || text.StartsWith(@".\", StringComparison.Ordinal)
        || text.StartsWith("~/", StringComparison.Ordinal)
        || (text.Length >= 3 && char.IsLetter(text[0]) && text[1] == ':' && (text[2] == '\\' || text[2] == '/'));

    private static bool IsAllDigits(string text)
    {
        if (text.Length == 0)
        {
            return false;
        }

        foreach (char c in text)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }

        return true;
    }

    private static FormatException Error(string value, string why) =>
        new($"Invalid guest agent connection string '{value}': {why}.");
}
