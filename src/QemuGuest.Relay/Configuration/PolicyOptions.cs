using System.Collections.Generic;

namespace QemuGuest.Relay.Configuration;

/// <summary>
/// Allow then deny (deny wins). Entries are command names, prefixes ending in '*', or '@class'
/// (a capability class of the schema); see <see cref="QemuGuest.Protocol.Validation.CommandRules"/>.
/// </summary>
public sealed class PolicyOptions
{
    /// <summary>Empty = everything the schema declares.</summary>
    public List<string> Allow { get; set; } = new();

    public List<string> Deny { get; set; } = new();
}
