# PowerShell Direct (issue 20), the interactive side: progress records, tab completion in the remote session, Enter-PSSession driven
# through a real console host. Real processes only: our agent on loopback sockets starting a real
# `pwsh -s` (this repository's pwsh, through a launcher); the "guest" is this machine.

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    . (Join-Path $PSScriptRoot 'AgentHelpers.ps1')

    $script:GuestPwsh = New-GuestPwshLauncher -Prefix 'qg-psint-'
    $script:GuestDir = Split-Path $GuestPwsh -Parent
}

AfterAll {
    Get-PSSession | Remove-PSSession
    Remove-Item -Recurse -Force $script:GuestDir -ErrorAction SilentlyContinue
}

Describe 'A PowerShell Direct session, interactively' {
    BeforeAll {
        $script:Agent, $script:S = Start-AgentSession -Kind Ours -Name 'pester-psint'
        $script:P = New-VMGuestPSSession -Session $S -PowerShellPath $GuestPwsh -ErrorAction Stop
        $script:GuestPid = Invoke-Command -Session $P { $PID }
    }

    AfterAll {
        if ($script:P) { $script:P | Remove-PSSession }
        Stop-AgentSession $Agent -AllSessions
    }

    It 'carries the guest''s progress records' {
        $ps = [powershell]::Create()
        try {
            $ps.Runspace = $P.Runspace
            $null = $ps.AddScript("`$ProgressPreference = 'Continue'; Write-Progress -Activity 'guest activity' -Status 'half way' -PercentComplete 50; 'done'")
            $ps.Invoke() | Should -BeExactly 'done'
            $rec = @($ps.Streams.Progress | Where-Object Activity -EQ 'guest activity')
            $rec.Count | Should -BeGreaterThan 0
            $rec[0].StatusDescription | Should -BeExactly 'half way'
            $rec[0].PercentComplete | Should -Be 50
        }
        finally { $ps.Dispose() }
    }

    It 'completes commands in the remote session, there (TabExpansion2) and through the client completion path' {
        Invoke-Command -Session $P { function global:Get-QgOnlyInTheGuest { 'x' } }
        $remote = Invoke-Command -Session $P { (TabExpansion2 'Get-QgOnlyInT' 13).CompletionMatches.CompletionText }
        $remote | Should -Contain 'Get-QgOnlyInTheGuest'
        # The path a host takes for Tab in Enter-PSSession: CommandCompletion.CompleteInput with a
        # PowerShell bound to the remote runspace runs TabExpansion2 in the guest.
        $ps = [powershell]::Create()
        try {
            $ps.Runspace = $P.Runspace
            $completions = [System.Management.Automation.CommandCompletion]::CompleteInput('Get-QgOnlyInT', 13, $null, $ps).CompletionMatches
            $completions.CompletionText | Should -Contain 'Get-QgOnlyInTheGuest'
        }
        finally { $ps.Dispose() }
        # Not a local answer: this side has no such command.
        Get-Command Get-QgOnlyInTheGuest -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}

Describe 'Enter-PSSession into a guest, through a real console host' {
    It 'runs the typed commands in the guest after Enter-PSSession, and the host ends after exit' {
        $agent = Start-LocalAgent -Kind Ours
        try {
            # pwsh reading its commands from standard input is the console host's own loop (the
            # prompt, Enter-PSSession's pushed runspace, exit); only a human's Tab is missing.
            $lines = @(
                "Import-Module '$env:QEMUGUEST_MODULE_PATH'"
                "`$s = New-VMGuestPSSession -Session (New-VMGuestSession -ConnectionString '$($agent.ConnectionString)') -PowerShellPath '$GuestPwsh' -ErrorAction Stop"
                '"local=$PID"'
                'Enter-PSSession $s'
                '"remote=$PID parent=$((Get-Content /proc/$PID/stat -Raw).Split('' '')[3])"'
                'exit'
            )
            $c = Start-ConsoleHost $lines -CloseInput
            try {
                $local = Wait-ConsoleLine $c 'local=\d+' 180
                $local -match 'local=(\d+)' | Should -BeTrue
                $local = [int]$Matches[1]
                $remote = Wait-ConsoleLine $c 'remote=\d+ parent=\d+' 180
                $remote -match 'remote=(\d+) parent=(\d+)' | Should -BeTrue -Because "the line typed after Enter-PSSession must run in the guest: $remote"
                [int]$Matches[1] | Should -Not -Be $local
                [int]$Matches[2] | Should -Be $agent.Process.Id
                Stop-ConsoleHost $c 180
            }
            finally { if (-not $c.Process.HasExited) { $c.Process.Kill($true) } }
        }
        finally { $agent | Stop-LocalAgent }
    }
}

Describe 'Ctrl+C of a running remote pipeline' {
    BeforeAll {
        $script:StopAgent = Start-LocalAgent -Kind Ours

        # Each case runs in a console host of its own (AgentHelpers.ps1: Start-ConsoleHost), so
        # that a stop that never completes hangs that child, not this run.
        $script:OpenLine = "Import-Module '$env:QEMUGUEST_MODULE_PATH'; `$g = New-VMGuestSession -ConnectionString '$($StopAgent.ConnectionString)'; 'imported'"
        $script:Loop = '"started=$PID"; while ($true) { Start-Sleep -Milliseconds 100 }'
    }

    AfterAll {
        $StopAgent | Stop-LocalAgent
    }

    It 'PowerShell.Stop() on the session''s runspace ends the pipeline; the session stays Opened and runs the next command' {
        $c = Start-ConsoleHost @(
            $OpenLine
            "`$s = New-VMGuestPSSession -Session `$g -PowerShellPath '$GuestPwsh' -ErrorAction Stop"
            '$ps = [powershell]::Create(); $ps.Runspace = $s.Runspace; $null = $ps.AddScript(''' + $Loop.Replace("'", "''") + ''')'
            # Input completed: with an input collection still open, PowerShell's client itself
            # throws NullReferenceException from EndInvoke after a stop (it flushes the closed input
            # through the command's finished transport: the stack is all System.Management.Automation).
            '$in = [System.Management.Automation.PSDataCollection[psobject]]::new(); $in.Complete(); $out = [System.Management.Automation.PSDataCollection[psobject]]::new(); $h = $ps.BeginInvoke($in, $out)'
            '$d = [DateTime]::UtcNow.AddSeconds(120); while ($out.Count -eq 0 -and [DateTime]::UtcNow -lt $d) { Start-Sleep -Milliseconds 100 }; "running=$($out[0] -replace ''^started='') $($ps.InvocationStateInfo.State)"'
            '$ps.Stop(); "stopped=$($ps.InvocationStateInfo.State) session=$($s.State)"'
            'try { $null = $ps.EndInvoke($h); "endinvoke=returned" } catch { "endinvoke=$($_.Exception.GetBaseException().GetType().Name): $($_.Exception.GetBaseException().Message)" }'
            '"next=" + (Invoke-Command -Session $s { $PID }) + " session=$($s.State)"'
            '$ps.Dispose(); Remove-PSSession $s; "removed"'
        )
        try {
            $running = Wait-ConsoleLine $c '^running='
            $running | Should -Match '^running=\d+ Running$'
            $guestPid = [int]($running -replace '^running=(\d+).*', '$1')
            Wait-ConsoleLine $c '^stopped=' | Should -BeExactly 'stopped=Stopped session=Opened'
            Wait-ConsoleLine $c '^endinvoke=' | Should -BeExactly 'endinvoke=RemoteException: The pipeline has been stopped.'
            Wait-ConsoleLine $c '^next=' | Should -BeExactly "next=$guestPid session=Opened"
            Wait-ConsoleLine $c '^removed' | Should -Not -BeNullOrEmpty
            Stop-ConsoleHost $c
        }
        finally { if (-not $c.Process.HasExited) { $c.Process.Kill($true) } }
    }

    # Real SIGINT, as a terminal's Ctrl+C sends it. CI starts the suites from a shell without job
    # control, where SIGINT is ignored and .NET installs no handler: Start-ConsoleHost restores
    # it, and Send-ConsoleInterrupt first checks that the console host catches it.
    It 'a real Ctrl+C (SIGINT to the console host) stops Invoke-Command -Session; the session runs the next command in the same guest PowerShell' {
        $c = Start-ConsoleHost @(
            $OpenLine
            "`$s = New-VMGuestPSSession -Session `$g -PowerShellPath '$GuestPwsh' -ErrorAction Stop"
            "Invoke-Command -Session `$s { $Loop }"
            '"next=" + (Invoke-Command -Session $s { $PID }) + " session=$($s.State)"'
            'Remove-PSSession $s; "removed"'
        )
        try {
            $guestPid = [int]((Wait-ConsoleLine $c '^started=') -replace '^started=', '')
            Send-ConsoleInterrupt $c
            Wait-ConsoleLine $c '^next=' | Should -BeExactly "next=$guestPid session=Opened"
            Wait-ConsoleLine $c '^removed' | Should -Not -BeNullOrEmpty
            Stop-ConsoleHost $c
        }
        finally { if (-not $c.Process.HasExited) { $c.Process.Kill($true) } }
    }

    It 'a real Ctrl+C stops Invoke-VMGuestScriptBlock: it returns, its guest PowerShell ends, and the next call works' {
        $c = Start-ConsoleHost @(
            $OpenLine
            "Invoke-VMGuestScriptBlock -Session `$g -PowerShellPath '$GuestPwsh' { $Loop }"
            '"returned"'
            "`"next=`" + (Invoke-VMGuestScriptBlock -Session `$g -PowerShellPath '$GuestPwsh' { `$PID } -ErrorAction Stop)"
        )
        try {
            $guestPid = [int]((Wait-ConsoleLine $c '^started=') -replace '^started=', '')
            Send-ConsoleInterrupt $c
            Wait-ConsoleLine $c '^returned' | Should -Not -BeNullOrEmpty
            Wait-ProcessGone -Id $guestPid -What 'the stopped guest pwsh'
            $next = Wait-ConsoleLine $c '^next='
            $next | Should -Match '^next=\d+$'
            $next | Should -Not -Be "next=$guestPid"
            Stop-ConsoleHost $c
        }
        finally { if (-not $c.Process.HasExited) { $c.Process.Kill($true) } }
    }
}
