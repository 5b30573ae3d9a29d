namespace QemuGuest.Agent.Tests;

/// <summary>How a reply pair is judged.</summary>
public enum Compare
{
    /// <summary>Identical JSON (member order ignored).</summary>
    Exact,

    /// <summary>Both succeed, and every member of the stock reply exists in ours with the same kind.</summary>
    Shape,

    /// <summary>Shape, plus the same list of "name" members (e.g. disks), in any order.</summary>
    Names,

    /// <summary>Both return arrays holding the same elements (exactly), in any order.</summary>
    Unordered,

    /// <summary>Both fail with the same class and the same desc.</summary>
    Error,

    /// <summary>Both fail with the same class (desc is not deterministic or differs on purpose).</summary>
    ErrorClass,
}
