# PowerShell Direct for QEMU guests (issue 20): New-VMGuestPSSession returns a real PSSession
# whose remoting protocol runs over our agent's streamed exec (exec-start stream-input/-output,
# exec-write, exec-read) to a real `pwsh -s` started by the agent. Real processes only: our
# agent on a loopback socket (the "guest" is this machine), the pwsh this repository restores
# as the guest's PowerShell, the real relay, Debian's qemu-ga for the refusal.

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    . (Join-Path $PSScriptRoot 'AgentHelpers.ps1')

    # The guest's PowerShell: this repository's pwsh (a dotnet tool: pwsh.dll beside
    # System.Management.Automation.dll in $PSHOME), behind a small launcher the agent can exec.
    $script:GuestPwsh = New-GuestPwshLauncher -Prefix 'qg-psdirect-'
    $script:GuestDir = Split-Path $GuestPwsh -Parent
}

AfterAll {
    Get-PSSession | Remove-PSSession
    Remove-Item -Recurse -Force $script:GuestDir -ErrorAction SilentlyContinue
}

Describe 'New-VMGuestPSSession with our agent (loopback)' {
    BeforeAll {
        $script:Agent, $script:S = Start-AgentSession -Kind Ours -Name 'pester-psdirect'
        $script:P = New-VMGuestPSSession -Session $S -PowerShellPath $GuestPwsh -Name 'direct1' -ErrorAction Stop
    }

    AfterAll {
        if ($script:P) { $script:P | Remove-PSSession }
        Stop-AgentSession $Agent -AllSessions
    }

    It 'returns an opened PSSession with the QemuGuest transport' {
        $P | Should -BeOfType ([System.Management.Automation.Runspaces.PSSession])
        $P.State | Should -Be 'Opened'
        $P.Transport | Should -Be 'QemuGuest'
        $P.Name | Should -Be 'direct1'
        (Get-PSSession -Name 'direct1').InstanceId | Should -Be $P.InstanceId
    }

    It 'runs the script block in another PowerShell process, started by the agent' {
        $remotePid = Invoke-Command -Session $P { $PID }
        $remotePid | Should -BeOfType ([int])
        $remotePid | Should -Not -Be $PID
        # The guest PowerShell is a child of the agent (pwsh via its launcher).
        $parent = (Get-Content "/proc/$remotePid/stat" -Raw).Split(' ')[3]
        [int]$parent | Should -Be $Agent.Process.Id
    }

    It 'round-trips objects as deserialised objects, by type and value' {
        $r = Invoke-Command -Session $P { [pscustomobject]@{ A = 1; B = 'x'; C = [datetime]'2024-01-02T03:04:05Z'; D = 1..3 } }
        $r.A | Should -BeOfType ([int])
        $r.A | Should -Be 1
        $r.B | Should -BeExactly 'x'
        $r.C | Should -BeOfType ([datetime])
        $r.C.ToUniversalTime() | Should -Be ([datetime]::new(2024, 1, 2, 3, 4, 5, [DateTimeKind]::Utc))
        @($r.D) | Should -Be @(1, 2, 3)
        $r.PSComputerName | Should -Be 'pester-psdirect'
        $r.PSObject.TypeNames | Should -Contain 'Deserialized.System.Management.Automation.PSCustomObject'
    }

    It 'passes -ArgumentList and $using: values' {
        Invoke-Command -Session $P { param($a, $b) $a * $b } -ArgumentList 6, 7 | Should -Be 42
        $word = 'guest'
        Invoke-Command -Session $P { "hello $using:word".ToUpperInvariant() } | Should -BeExactly 'HELLO GUEST'
    }

    It 'keeps state between calls in the same session' {
        Invoke-Command -Session $P { $global:kept = 'still here' }
        Invoke-Command -Session $P { $global:kept } | Should -BeExactly 'still here'
    }

    It 'surfaces the remote error stream as error records' {
        $out = Invoke-Command -Session $P { Write-Error 'boom from the guest' -ErrorId 'GuestBoom'; 'after' } -ErrorVariable ev -ErrorAction SilentlyContinue
        $out | Should -BeExactly 'after'
        $ev.Count | Should -Be 1
        $ev[0] | Should -BeOfType ([System.Management.Automation.ErrorRecord])
        $ev[0].Exception.Message | Should -BeExactly 'boom from the guest'
        $ev[0].FullyQualifiedErrorId | Should -BeLike 'GuestBoom*'
        { Invoke-Command -Session $P { throw 'terminating in the guest' } -ErrorAction Stop } | Should -Throw '*terminating in the guest*'
    }

    It 'surfaces warning and verbose records' {
        $out = Invoke-Command -Session $P { Write-Warning 'w1'; 'value' } -WarningVariable wv -WarningAction SilentlyContinue
        $out | Should -BeExactly 'value'
        $wv[0] | Should -BeOfType ([System.Management.Automation.WarningRecord])
        $wv[0].Message | Should -BeExactly 'w1'
        # The session's runspace straight: every stream of the remote pipeline, as records.
        $ps = [powershell]::Create()
        try {
            $ps.Runspace = $P.Runspace
            $null = $ps.AddScript("Write-Warning 'w2'; Write-Verbose 'v2' -Verbose; Write-Information 'i2'; 'out2'")
            $ps.Invoke() | Should -BeExactly 'out2'
            $ps.Streams.Warning[0].Message | Should -BeExactly 'w2'
            $ps.Streams.Verbose[0].Message | Should -BeExactly 'v2'
            $ps.Streams.Information[0].MessageData | Should -BeExactly 'i2'
        }
        finally { $ps.Dispose() }
    }

    It 'carries many objects (more than one agent read)' {
        $r = Invoke-Command -Session $P { 1..3000 | ForEach-Object { [pscustomobject]@{ N = $_; S = 'x' * 50 } } }
        $r.Count | Should -Be 3000
        ($r | Measure-Object N -Sum).Sum | Should -Be (3000 * 3001 / 2)
    }

    It 'copies a file into the guest with Copy-Item -ToSession and back with -FromSession' {
        $src = Join-Path $GuestDir 'to-guest.txt'
        $dst = Join-Path $GuestDir 'in-guest.txt'
        $back = Join-Path $GuestDir 'back.txt'
        'line one', 'line two' | Set-Content -Path $src
        Copy-Item -Path $src -Destination $dst -ToSession $P
        Invoke-Command -Session $P { Get-Content -Raw $using:dst } | Should -BeExactly ("line one`nline two`n")
        Copy-Item -Path $dst -Destination $back -FromSession $P
        Get-Content -Raw $back | Should -BeExactly ("line one`nline two`n")
    }
}

Describe 'The end of a PowerShell Direct session' {
    BeforeAll {
        $script:Agent, $script:S = Start-AgentSession -Kind Ours -Name 'pester-psdirect-end'
    }

    AfterAll {
        Stop-AgentSession $Agent -AllSessions
    }

    It 'Remove-PSSession stops the guest PowerShell (no process left)' {
        $p = New-VMGuestPSSession -Session $S -PowerShellPath $GuestPwsh -ErrorAction Stop
        $remotePid = Invoke-Command -Session $p { $PID }
        Test-Path "/proc/$remotePid" | Should -BeTrue
        $p | Remove-PSSession
        Wait-ProcessGone -Id $remotePid -What 'the guest pwsh of the removed session'
        # Nothing of it is left in the agent's table either: a read names it unknown.
        { Read-VMGuestExecStream -Session $S $remotePid -ErrorAction Stop } | Should -Throw
    }

    It 'a killed guest PowerShell breaks the session with an error naming the end, without a hang' {
        $p = New-VMGuestPSSession -Session $S -PowerShellPath $GuestPwsh -ErrorAction Stop
        $remotePid = Invoke-Command -Session $p { $PID }
        & kill -9 $remotePid
        Wait-Until { $p.State -eq 'Broken' } | Should -BeTrue -Because 'the session must notice that its server died'
        $p.Runspace.RunspaceStateInfo.Reason.Message | Should -BeLike "*was killed by signal 9*"
        { Invoke-Command -Session $p { 1 } -ErrorAction Stop } | Should -Throw '*session state is Broken*'
        $p | Remove-PSSession
    }

    It 'a guest program that is not PowerShell fails to open with GuestPSSessionFailed, naming its end' {
        $err = $null
        try { New-VMGuestPSSession -Session $S -PowerShellPath /bin/false -OpenTimeoutSec 60 -ErrorAction Stop } catch { $err = $_ }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike 'GuestPSSessionFailed*'
        $err.Exception.Message | Should -BeLike '*/bin/false*exited with code 1*'
    }
}

Describe 'PowerShell Direct through the relay, and refused where it cannot run' {
    BeforeAll {
        $script:Ours = Start-LocalAgent -Kind Ours
        $script:Stock = Start-LocalAgent -Kind Stock
        $script:NoExec = Start-LocalAgent -Kind Ours -ExtraArguments '-b', '@exec'
        $script:Relay = Start-LocalRelay -Vms ([ordered]@{ 'ours01' = $Ours; 'stock01' = $Stock; 'noexec01' = $NoExec })
        $script:SavedRelayDir = $env:QEMUGUEST_RELAY_DIR
        $env:QEMUGUEST_RELAY_DIR = $Relay.RuntimeDirectory
    }

    AfterAll {
        Get-PSSession | Remove-PSSession
        Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
        $env:QEMUGUEST_RELAY_DIR = $script:SavedRelayDir
        $script:Relay | Stop-LocalRelay
        $script:Ours, $script:Stock, $script:NoExec | Stop-LocalAgent
    }

    It 'opens a session with -VMName through the relay, usable after the cmdlet ended' {
        $p = New-VMGuestPSSession -VMName ours01 -PowerShellPath $GuestPwsh -ErrorAction Stop
        $p.ComputerName | Should -Be 'ours01'
        Invoke-Command -Session $p { [pscustomobject]@{ Sum = (1..10 | Measure-Object -Sum).Sum } } | ForEach-Object Sum | Should -Be 55
        $remotePid = Invoke-Command -Session $p { $PID }
        $p | Remove-PSSession
        Wait-ProcessGone -Id $remotePid -What 'the guest pwsh of the removed session'
    }

    It 'the stock qemu-ga is refused before anything runs, naming the missing capability' {
        $err = $null
        try { New-VMGuestPSSession -VMName stock01 -PowerShellPath $GuestPwsh -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'AgentFeatureUnavailable*'
        $err.Exception.Message | Should -BeLike '*does not offer __com.qemuguest_guest-exec-write*stock qemu-ga cannot stream standard input*'
    }

    It 'an agent whose policy denies exec refuses it' {
        $err = $null
        try { New-VMGuestPSSession -VMName noexec01 -PowerShellPath $GuestPwsh -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'AgentFeatureUnavailable*'
        $err.Exception.Message | Should -BeLike '*does not offer __com.qemuguest_guest-exec-write*allow exec in its policy*'
    }
}
