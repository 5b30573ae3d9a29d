namespace QemuGuest.Relay.Guest;

/// <summary>What became of a relayed request.</summary>
public enum OutcomeKind
{
    /// <summary>A schema-valid "return".</summary>
    Return,

    /// <summary>An agent error, or one the relay made.</summary>
    Error,

    /// <summary>A success-response:false command that (as it should) sent nothing.</summary>
    NoReply,
}
