using System;

namespace QemuGuest.Protocol.Marshalling;

/// <summary>
/// Records a schema 'if' condition on a generated type or member. Client-side types are
/// always generated (the client cannot know the guest's OS); this keeps the condition as data,
/// in QAPI's textual form, e.g. "CONFIG_LINUX" or "any(CONFIG_WIN32, CONFIG_FSFREEZE)".
/// </summary>
[AttributeUsage(AttributeTargets.All, AllowMultiple = false, Inherited = false)]
public sealed class QapiIfAttribute : Attribute
{
    public QapiIfAttribute(string condition) => Condition = condition;

    public string Condition { get; }
}
