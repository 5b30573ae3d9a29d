using System;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace QemuGuest.Relay.Configuration;

/// <summary>Where a VM's agent chardev is: a unix socket path or tcp:HOST:PORT.</summary>
public sealed class AgentAddress
{
    private AgentAddress(EndPoint endPoint, string display)
    {
        EndPoint = endPoint;
        Display = display;
    }

    public EndPoint EndPoint { get; }

    public string Display { get; }

    public AddressFamily Family => EndPoint.AddressFamily;

    public override string ToString() => Display;

    public static AgentAddress Parse(string text)
    {
        if (!TryParse(text, out var address))
        {
            throw new FormatException($"'{text}' is neither a socket path nor tcp:HOST:PORT.");
        }

        return address!;
    }

    public static bool TryParse(string text, out AgentAddress? address)
    {
        address = null;
        if (text.StartsWith("tcp:", StringComparison.Ordinal))
        {
            if (!TryParseEndPoint(text[4..], out var ip))
            {
                return false;
            }

            address = new AgentAddress(ip!, text);
            return true;
        }

        if (text.Length == 0)
        {
            return false;
        }

        address = new AgentAddress(new UnixDomainSocketEndPoint(text), text);
        return true;
    }

    /// <summary>HOST:PORT with a literal IPv4 or [IPv6] address.</summary>
    public static bool TryParseEndPoint(string text, out IPEndPoint? endPoint)
    {
        endPoint = null;
        int colon = text.LastIndexOf(':');
        if (colon <= 0)
        {
            return false;
        }

        string host = text[..colon].Trim('[', ']');
        if (!IPAddress.TryParse(host, out var ip)
            || !int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port)
            || port is < 1 or > 65535)
        {
            return false;
        }

        endPoint = new IPEndPoint(ip, port);
        return true;
    }
}
