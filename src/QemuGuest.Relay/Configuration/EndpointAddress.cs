using System.Globalization;
using System.Net;

namespace QemuGuest.Relay.Configuration;

/// <summary>
/// The address of a management TCP endpoint: HOST:PORT with a literal IPv4 or [IPv6] address
/// (so that "loopback or not" is decided on the address, never on name resolution). Agent
/// chardev addresses are the protocol's <c>ConnectionString</c>.
/// </summary>
public static class EndpointAddress
{
    public static bool TryParse(string text, out IPEndPoint? endPoint)
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
